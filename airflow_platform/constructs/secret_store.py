"""AirflowSecretStore (infra stack): every generated Airflow secret, in AWS Secrets Manager only.

Each value is drawn once by an ephemeral `aws_secretsmanager_random_password` and written
through the write-only `secret_string_wo` (version 1, never bumped): it appears in no state,
plan or log, and a re-plan never draws it again. Secrets are encrypted with the store's
own KMS key and named `<prefix>/airflow/<name>`, where an operator finds them.

The store also owns the IAM role (IRSA) of the database-role bootstrap Job in the apps
stack: it may read only the RDS master secret and the Airflow role's password secret, and
decrypt only with their two keys.
"""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktf_cdktf_provider_aws.secretsmanager_secret_version import SecretsmanagerSecretVersion

from airflow_platform.airflow_identity import DB_BOOTSTRAP_SERVICE_ACCOUNT
from airflow_platform.generated_secrets import GENERATED, secret_name
from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.ephemeral import ephemeral_random_password
from airflow_platform.constructs.irsa_role import ClusterOidc, IrsaRole
from airflow_platform.constructs.kms import EncryptionKey


class AirflowSecretStore(Construct):
    """The `GENERATED` secrets under their own KMS key, and the bootstrap Job's role (see the module)."""

    arns: dict[str, str]  # generated secret name (GENERATED) -> its secret's ARN
    bootstrap_role_arn: str  # for the database-role bootstrap Job's service account (apps stack)
    key_arn: str  # the platform's secrets key: also the key of the connections and variables Airflow reads

    def __init__(self, scope: Construct, id: str, *, prefix: str, namespace: str, recovery_window_days: int,
                 master_secret_arn: str, master_secret_key_arn: str, oidc: ClusterOidc) -> None:
        super().__init__(scope, id)
        key = EncryptionKey(self, "key", alias=f"{prefix}-airflow-secrets",
                            description=f"Airflow's generated secrets of {prefix}")
        self.key_arn = key.arn
        self.arns = {}
        for g in GENERATED:
            tf_id = g.name.replace("-", "_")
            secret = SecretsmanagerSecret(
                self, tf_id, name=secret_name(prefix, g.name), description=g.what, kms_key_id=key.arn,
                # A recovery window keeps a deleted secret restorable; 0 frees the name at once for a redeploy.
                recovery_window_in_days=recovery_window_days,
            )
            value = ephemeral_random_password(self, f"airflow_{tf_id}", length=g.length)
            if g.fernet:
                value = "${" + f'replace(replace(base64encode({value[2:-1]}), "+", "-"), "/", "_")' + "}"
            SecretsmanagerSecretVersion(
                self, f"{tf_id}_value", secret_id=secret.id, secret_string_wo=value,
                # Written once. Rotating is a new Secrets Manager version (see docs/secrets.md's
                # runbook), never a bump here: this resource does not fight it.
                secret_string_wo_version=1,
            )
            self.arns[g.name] = secret.arn

        region = AwsAccount.of(self).region
        role = IrsaRole(
            self, "bootstrap_role", name=f"{prefix}-airflow-db-bootstrap", oidc=oidc,
            service_accounts=[f"{namespace}:{DB_BOOTSTRAP_SERVICE_ACCOUNT}"],
            statements=(
                {"Sid": "ReadMasterAndAirflowRoleSecrets", "Effect": "Allow",
                 "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                 "Resource": [master_secret_arn, self.arns["db-password"]]},
                {"Sid": "DecryptThem", "Effect": "Allow", "Action": "kms:Decrypt",
                 "Resource": [master_secret_key_arn, key.arn],
                 "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}},
            ),
        )
        self.bootstrap_role_arn = role.arn
