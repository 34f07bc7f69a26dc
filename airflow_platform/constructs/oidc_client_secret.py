"""OidcClientSecret (apps stack): the identity provider's client secret, from Secrets Manager to Kubernetes.

The operator stores the secret the provider issued at `<prefix>/airflow/oidc-client-secret`,
encrypted with the platform's `alias/<prefix>-airflow-secrets` key (docs/security.md), so the CI
roles' existing grants on `<prefix>/airflow/*` and that key cover it. It is read like every
generated secret (AirflowSecrets' SecretSource): an ephemeral `aws_secretsmanager_secret_version`
whose value reaches the Kubernetes Secret only through the write-only `data_wo`, rewritten when
the current version id changes. No value in state, plan or Helm values.
"""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_kubernetes.secret_v1 import SecretV1, SecretV1Metadata

from airflow_platform.constructs.airflow_secrets import SecretSource, revision
from airflow_platform.oidc_sign_in import CLIENT_SECRET_KEY, KUBERNETES_SECRET


class OidcClientSecret(Construct):
    """The Kubernetes Secret `KUBERNETES_SECRET` (key `CLIENT_SECRET_KEY`) the API server reads."""

    secret: SecretV1
    name: str
    version_id: str  # a Terraform expression: the current version's id (a new one restarts the API server)

    def __init__(self, scope: Construct, id: str, *, namespace: str, secret_id: str) -> None:
        super().__init__(scope, id)
        source = SecretSource(self, "oidc-client-secret", secret_id)
        self.version_id = source.version_id
        self.secret = SecretV1(
            self, "secret", type="Opaque", data_wo={CLIENT_SECRET_KEY: f"${{{source.value}}}"},
            data_wo_revision=revision(source),
            metadata=SecretV1Metadata(name=KUBERNETES_SECRET, namespace=namespace,
                                      labels={"app.kubernetes.io/managed-by": "terraform"}),
        )
        self.name = self.secret.metadata.name
