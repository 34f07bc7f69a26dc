"""The Kubernetes Secrets Airflow reads: nothing secret passes through Helm values, state or plans.

Every value comes from AWS Secrets Manager (the infra stack's AirflowSecretStore) through an
ephemeral `aws_secretsmanager_secret_version`, and reaches Kubernetes through the
write-only `data_wo` of `kubernetes_secret_v1`: Terraform never stores or prints it.

`data_wo` is written again only when `data_wo_revision` changes. The revision is derived
from the AWSCURRENT version id of the Secrets Manager secrets a Kubernetes Secret is built
from (`aws_secretsmanager_secret_versions`: ids and stages, no values), so a new version
there (the rotation runbook in docs/secrets.md) reaches Kubernetes on the next deploy, and a
re-plan without one changes nothing.

Airflow connects as its own PostgreSQL role (made by the DbRoleBootstrap Job), never as
the RDS master user, whose rotation therefore never touches Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformLocal, TerraformResource, Token
from constructs import Construct

from cdktf_cdktf_provider_aws.data_aws_secretsmanager_secret_versions import DataAwsSecretsmanagerSecretVersions
from cdktf_cdktf_provider_kubernetes.secret_v1 import SecretV1, SecretV1Metadata

from airflow_platform.airflow_identity import RELEASE_NAME
from airflow_platform.constructs.ephemeral import ephemeral_secret_string, expression

PGBOUNCER_PORT = 6543
REDIS_PORT = 6379
MAX_PREPARED_STATEMENTS = 200
# What each Secrets Manager secret of the store is, by its generated name.
SOURCES = ("fernet-key", "api-secret-key", "jwt-secret", "redis-password", "admin-password", "db-password")


@dataclass(frozen=True)
class DatabaseConnection:
    """Where the metadata database is, and the PostgreSQL role Airflow logs in as."""

    address: str
    port: str
    name: str
    role: str


class SecretSource:
    """One Secrets Manager secret, read ephemerally."""

    value: str  # a Terraform expression of the ephemeral value
    version_id: str  # a Terraform expression of the current version's id (no value in it)

    def __init__(self, scope: Construct, name: str, arn: str) -> None:
        tf_id = name.replace("-", "_")
        self.value = expression(ephemeral_secret_string(scope, f"airflow_{tf_id}", secret_id=arn))
        versions = DataAwsSecretsmanagerSecretVersions(scope, f"{tf_id}_versions", secret_id=arn)
        # A local: a short reference, safe inside YAML that wraps long lines.
        current = TerraformLocal(scope, f"{tf_id}_current_version", "${" + (
            f'one([for v in {versions.fqn}.versions : v.version_id if contains(v.version_stages, "AWSCURRENT")])'
        ) + "}")
        self.version_id = f"local.{current.friendly_unique_id}"


def revision(*sources: SecretSource, also: tuple[str, ...] = ()) -> float:
    """A number that changes when any source gets a new current version, or any expression of
    `also` a new value (48 bits of a sha256)."""
    ids = ", ".join([*(s.version_id for s in sources), *also])
    return Token.as_number("${" + f"parseint(substr(sha256(join(\",\", [{ids}])), 0, 12), 16)" + "}")


class AirflowSecrets(Construct):
    """Every Secret the chart is pointed at. Each is a Kubernetes Secret whose data Terraform writes
    write-only (`data_wo`) from Secrets Manager, read ephemerally: no value reaches state or plan."""

    resources: list[SecretV1]  # the chart depends on them
    db_password: SecretSource  # the Airflow role's password: its `version_id` restarts the pods that hold it
    # An expression of where PgBouncer connects (address:port/name): a new one (a switch to a
    # restored instance) rewrites PgBouncer's config and, through a pod annotation, restarts it.
    db_backend: str
    # The Secret names, each set in the chart value that reads it:
    metadata_connection: str
    result_backend_connection: str
    pgbouncer_config: str
    pgbouncer_stats: str
    fernet_key: str
    api_secret_key: str
    jwt_secret: str
    redis_password: str
    broker_url: str
    admin_password: str

    def __init__(self, scope: Construct, id: str, *, namespace: str, database: DatabaseConnection,
                 secret_arns: dict[str, str]) -> None:
        super().__init__(scope, id)
        missing = sorted(set(SOURCES) - set(secret_arns))
        if missing:
            raise ValueError(f"secret_arns lacks the generated secrets {missing}")
        self._namespace = namespace
        self.resources: list[SecretV1] = []
        self._built_from: dict[SecretSource, list[SecretV1]] = {}
        src = {name: SecretSource(self, name, secret_arns[name]) for name in SOURCES}
        self.db_password = db = src["db-password"]
        redis = src["redis-password"]
        role = database.role
        password_url = "${" + f"urlencode({db.value})" + "}"
        pgbouncer = f"{RELEASE_NAME}-pgbouncer.{namespace}:{PGBOUNCER_PORT}"
        backend = TerraformLocal(self, "db_backend", f"{database.address}:{database.port}/{database.name}")
        self.db_backend = f"local.{backend.friendly_unique_id}"

        # PgBouncer listens in-cluster without TLS; PgBouncer -> RDS requires TLS.
        self.metadata_connection = self._secret("metadata", {
            "connection": f"postgresql://{role}:{password_url}@{pgbouncer}/{RELEASE_NAME}-metadata?sslmode=disable",
        }, db)
        self.result_backend_connection = self._secret("result-backend", {
            "connection": f"db+postgresql://{role}:{password_url}@{pgbouncer}/{RELEASE_NAME}-result-backend"
                          "?sslmode=disable",
        }, db)
        self.pgbouncer_config = self._secret("pgbouncer-config", {
            "pgbouncer.ini": pgbouncer_ini(database),
            # users.txt quotes with "; a " inside a value is doubled.
            "users.txt": f'"{role}" "${{replace({db.value}, "\\"", "\\"\\"")}}"\n',
        }, db, also=(self.db_backend,))
        self.pgbouncer_stats = self._secret("pgbouncer-stats", {
            "connection": f"postgresql://{role}:{password_url}@127.0.0.1:{PGBOUNCER_PORT}/pgbouncer?sslmode=disable",
        }, db)
        self.fernet_key = self._secret("fernet-key", {"fernet-key": f"${{{src['fernet-key'].value}}}"},
                                       src["fernet-key"])
        self.api_secret_key = self._secret("api-secret-key", {
            "api-secret-key": f"${{{src['api-secret-key'].value}}}"}, src["api-secret-key"])
        self.jwt_secret = self._secret("jwt-secret", {"jwt-secret": f"${{{src['jwt-secret'].value}}}"},
                                       src["jwt-secret"])
        self.redis_password = self._secret("redis-password", {"password": f"${{{redis.value}}}"}, redis)
        self.broker_url = self._secret("broker-url", {
            "connection": f"redis://:${{urlencode({redis.value})}}@{RELEASE_NAME}-redis.{namespace}:{REDIS_PORT}/0",
        }, redis)
        self.admin_password = self._secret("admin-password", {
            "password": f"${{{src['admin-password'].value}}}"}, src["admin-password"])

    def write_after(self, source: SecretSource, *resources: TerraformResource) -> None:
        """The Secrets built from `source` are (re)written only after `resources` are applied.

        For the database password: after the Job that sets it on the role, so no consumer
        (PgBouncer, Airflow) is handed a password the database does not accept yet, and a
        failed Job stops the apply before any of them changes."""
        addresses = [f"{r.terraform_resource_type}.{r.friendly_unique_id}" for r in resources]
        for secret in self._built_from[source]:
            secret.depends_on = [*(secret.depends_on or []), *addresses]

    def _secret(self, suffix: str, data: dict[str, str], *sources: SecretSource, also: tuple[str, ...] = ()) -> str:
        secret = SecretV1(
            self, suffix.replace("-", "_"), type="Opaque", data_wo=data, data_wo_revision=revision(*sources, also=also),
            metadata=SecretV1Metadata(name=f"{RELEASE_NAME}-{suffix}", namespace=self._namespace,
                                      labels={"app.kubernetes.io/managed-by": "terraform"}),
        )
        self.resources.append(secret)
        for source in sources:
            self._built_from.setdefault(source, []).append(secret)
        return secret.metadata.name


def pgbouncer_ini(database: DatabaseConnection) -> str:
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
        f"stats_users = {database.role}",
        "ignore_startup_parameters = extra_float_digits",
        "max_client_conn = 200",
        "verbose = 0",
        "log_disconnections = 0",
        "log_connections = 0",
        "server_tls_sslmode = require",
        "server_tls_ciphers = normal",
        # Airflow's driver (psycopg 3 under SQLAlchemy 2.1) uses named prepared statements; in
        # transaction mode PgBouncer must track them ("prepared statement _pg3_0 already exists"
        # otherwise). Supported since PgBouncer 1.21, off by default before 1.24; the chart's
        # image is 1.23.1.
        f"max_prepared_statements = {MAX_PREPARED_STATEMENTS}",
        "",
    ])
