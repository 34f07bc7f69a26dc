"""AirflowRoles: one IAM role (IRSA) per kind of Airflow component, each with only what it uses.

- tasks (the Celery workers and the triggerer, where task and trigger code runs): write task
  logs; read the connections and variables under `<prefix>/airflow/connections/*` and
  `<prefix>/airflow/variables/*`, decrypting with the platform's secrets key only through
  Secrets Manager; plus `extra_statements` (the setting `airflow_task_policy_statements`,
  checked against the permissions boundary before any Terraform is written).
- api-server: read task logs, to show them. No secret: the backend is not configured there
  (airflow_platform/secrets_backend.py says why).
- scheduler and dag-processor: no role at all; they call no AWS API (their service accounts
  carry no annotation, and IMDS is out of a pod's reach: hop limit 1 on the nodes).
"""

from __future__ import annotations

from constructs import Construct

from airflow_platform.airflow_identity import service_account_name
from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.irsa_role import ClusterOidc, IrsaRole
from airflow_platform.constructs.task_logs import TaskLogs, reader_statements, writer_statements
from airflow_platform.secrets_backend import LOOKUP_COMPONENTS, connections_prefix, variables_prefix

API_SERVER = "api-server"


class AirflowRoles(Construct):
    """The tasks role and the API server's role (see the module)."""

    # Chart component (airflow_identity.service_account_name) -> its role's ARN; a component
    # absent here has no role.
    role_arns: dict[str, str]

    def __init__(self, scope: Construct, id: str, *, name: str, prefix: str, namespace: str, oidc: ClusterOidc,
                 task_logs: TaskLogs, secrets_key_arn: str, extra_statements: tuple[dict, ...] = ()) -> None:
        super().__init__(scope, id)
        account = AwsAccount.of(self)
        secrets = [account.arn("secretsmanager", f"secret:{p}/*")
                   for p in (connections_prefix(prefix), variables_prefix(prefix))]
        # The role every component shared before, narrowed to the tasks: same name and construct path
        # (under TaskLogs, where deployed states hold it), so an upgrade changes its policies in place
        # and the workers keep their identity; no chain of `moved` blocks (stacks/infra_moved.py).
        tasks = IrsaRole(
            task_logs, "airflow_role", name=f"{name}-airflow", oidc=oidc,
            service_accounts=[f"{namespace}:{service_account_name(c)}" for c in LOOKUP_COMPONENTS],
            statements=(
                *writer_statements(task_logs.bucket_arn, task_logs.key_arn),
                # The SecretsManagerBackend calls GetSecretValue by name, nothing else
                # (providers/amazon/aws/secrets/secrets_manager.py `_get_secret_value`).
                {"Sid": "ReadConnectionsAndVariables", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                 "Resource": secrets},
                # Secrets Manager decrypts as the caller (Secrets Manager User Guide, "Secret
                # encryption and decryption"): this key, and only through Secrets Manager.
                {"Sid": "DecryptThemThroughSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt",
                 "Resource": secrets_key_arn,
                 "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{account.region}.amazonaws.com"}}},
                *extra_statements,
            ),
        )
        api_server = IrsaRole(
            self, "api_server", name=f"{name}-airflow-api-server", oidc=oidc,
            service_accounts=[f"{namespace}:{service_account_name(API_SERVER)}"],
            statements=tuple(reader_statements(task_logs.bucket_arn, task_logs.key_arn)),
        )
        self.role_arns = {**{c: tasks.arn for c in LOOKUP_COMPONENTS}, API_SERVER: api_server.arn}
