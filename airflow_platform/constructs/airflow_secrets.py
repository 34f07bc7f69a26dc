"""The Kubernetes Secrets Airflow reads: nothing secret ever passes through Helm values."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import Fn, TerraformResourceLifecycle
from constructs import Construct

from cdktf_cdktf_provider_aws.data_aws_secretsmanager_random_password import DataAwsSecretsmanagerRandomPassword
from cdktf_cdktf_provider_aws.data_aws_secretsmanager_secret_version import DataAwsSecretsmanagerSecretVersion
from cdktf_cdktf_provider_kubernetes.secret_v1 import SecretV1, SecretV1Metadata

from airflow_platform.airflow_identity import RELEASE_NAME

PGBOUNCER_PORT = 6543
REDIS_PORT = 6379


@dataclass(frozen=True)
class DatabaseConnection:
    """Where the metadata database is and which Secrets Manager secret holds its master credentials."""

    address: str
    port: str
    name: str
    username: str
    secret_arn: str


class AirflowSecrets(Construct):
    """Every Secret the chart is pointed at, by name. Attributes are the Secret names.

    Two kinds:
    - derived from the RDS-managed master secret, read at every apply so a rotated
      password reaches Airflow on the next deploy: the metadata and result-backend
      connections (through PgBouncer), PgBouncer's own config and its stats connection;
    - generated once and then never changed (`ignore_changes`), because changing them
      breaks running Airflow: the Fernet key (encrypts connections and variables in the
      database), the API secret key and JWT secret (sign requests between components),
      the Redis password and the initial admin's password.
    """

    def __init__(self, scope: Construct, id: str, *, namespace: str, database: DatabaseConnection) -> None:
        super().__init__(scope, id)
        self._namespace = namespace
        self.resources: list[SecretV1] = []
        master = DataAwsSecretsmanagerSecretVersion(self, "db_master", secret_id=database.secret_arn)
        credentials = Fn.jsondecode(master.secret_string)
        user = Fn.lookup(credentials, "username")
        password = Fn.lookup(credentials, "password")
        # URL-encoded for connection URLs; RDS-generated passwords contain punctuation.
        user_url, password_url = Fn.urlencode(user), Fn.urlencode(password)
        pgbouncer = f"{RELEASE_NAME}-pgbouncer.{namespace}:{PGBOUNCER_PORT}"

        # PgBouncer listens in-cluster without TLS; PgBouncer -> RDS requires TLS.
        self.metadata_connection = self._secret("metadata", {
            "connection": f"postgresql://{user_url}:{password_url}@{pgbouncer}/{RELEASE_NAME}-metadata?sslmode=disable",
        })
        self.result_backend_connection = self._secret("result-backend", {
            "connection": f"db+postgresql://{user_url}:{password_url}@{pgbouncer}/{RELEASE_NAME}-result-backend"
                          "?sslmode=disable",
        })
        self.pgbouncer_config = self._secret("pgbouncer-config", {
            "pgbouncer.ini": pgbouncer_ini(database, user),
            # users.txt quotes with "; a " inside a value is doubled.
            "users.txt": f'"{user}" "{Fn.replace(password, Fn.raw_string(chr(34)), Fn.raw_string(chr(34) * 2))}"\n',
        })
        self.pgbouncer_stats = self._secret("pgbouncer-stats", {
            "connection": f"postgresql://{user_url}:{password_url}@127.0.0.1:{PGBOUNCER_PORT}/pgbouncer?sslmode=disable",
        })

        fernet = self._random("fernet", 32)
        # Fernet wants 32 bytes, url-safe base64: 32 random alphanumerics encoded.
        fernet_key = Fn.replace(Fn.replace(Fn.base64encode(fernet), "+", "-"), "/", "_")
        self.fernet_key = self._secret("fernet-key", {"fernet-key": fernet_key}, generated=True)
        self.api_secret_key = self._secret("api-secret-key", {"api-secret-key": self._random("api", 64)},
                                           generated=True)
        self.jwt_secret = self._secret("jwt-secret", {"jwt-secret": self._random("jwt", 64)}, generated=True)
        redis_password = self._random("redis", 48)
        self.redis_password = self._secret("redis-password", {"password": redis_password}, generated=True)
        self.broker_url = self._secret("broker-url", {
            "connection": f"redis://:{redis_password}@{RELEASE_NAME}-redis.{namespace}:{REDIS_PORT}/0",
        }, generated=True)
        self.admin_password = self._secret("admin-password", {"password": self._random("admin", 32)},
                                           generated=True)

    def _random(self, id: str, length: int) -> str:
        # Secrets Manager's GetRandomPassword: alphanumerics only, safe in URLs and ini files.
        return DataAwsSecretsmanagerRandomPassword(self, f"{id}_random", password_length=length,
                                                   exclude_punctuation=True).random_password

    def _secret(self, suffix: str, data: dict[str, str], *, generated: bool = False) -> str:
        secret = SecretV1(
            self, suffix.replace("-", "_"), type="Opaque", data=data,
            metadata=SecretV1Metadata(name=f"{RELEASE_NAME}-{suffix}", namespace=self._namespace,
                                      labels={"app.kubernetes.io/managed-by": "terraform"}),
            # A random value is re-drawn at every plan: keep the first one for good.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["data"]) if generated else None,
        )
        self.resources.append(secret)
        return secret.metadata.name


def pgbouncer_ini(database: DatabaseConnection, user: str) -> str:
    """The chart's PgBouncer config, with TLS to RDS required (the chart's default only prefers it)."""
    backend = f"host={database.address} dbname={database.name} port={database.port}"
    return "\n".join([
        "[databases]",
        f"{RELEASE_NAME}-metadata = {backend} pool_size=10",
        f"{RELEASE_NAME}-result-backend = {backend} pool_size=5",
        "",
        "[pgbouncer]",
        "pool_mode = transaction",
        f"listen_port = {PGBOUNCER_PORT}",
        "listen_addr = *",
        "auth_type = scram-sha-256",
        "auth_file = /etc/pgbouncer/users.txt",
        f"stats_users = {user}",
        "ignore_startup_parameters = extra_float_digits",
        "max_client_conn = 200",
        "verbose = 0",
        "log_disconnections = 0",
        "log_connections = 0",
        "server_tls_sslmode = require",
        "server_tls_ciphers = normal",
        "",
    ])
