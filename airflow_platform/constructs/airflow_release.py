"""AirflowRelease: the official Apache Airflow Helm chart, configured for this platform."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from constructs import Construct

from cdktf_cdktf_provider_helm.release import Release
from cdktf_cdktf_provider_kubernetes.namespace_v1 import NamespaceV1, NamespaceV1Metadata

from airflow_platform.airflow_identity import RELEASE_NAME
from airflow_platform.settings import Settings

CHART_REPOSITORY = "https://airflow.apache.org"
CHART_NAME = "airflow"
VALUES_FILE = Path(__file__).resolve().parents[2] / "helm" / "values.yaml"


@dataclass(frozen=True)
class DatabaseConnection:
    """Where the metadata database is and which secret holds its master credentials."""

    address: str
    port: str
    name: str
    username: str
    secret_arn: str


class AirflowRelease(Construct):
    """The chart at `settings.chart_version`, fed with `helm/values.yaml` then computed values.

    Attributes: `release`, `namespace`, `url`.
    """

    def __init__(self, scope: Construct, id: str, *, settings: Settings, database: DatabaseConnection,
                 airflow_role_arn: str, logs_bucket_name: str) -> None:
        super().__init__(scope, id)
        namespace = NamespaceV1(self, "namespace", metadata=NamespaceV1Metadata(name=settings.airflow_namespace))
        self.namespace = namespace.metadata.name
        self.release = Release(
            self, "release", name=RELEASE_NAME, namespace=self.namespace,
            repository=CHART_REPOSITORY, chart=CHART_NAME, version=settings.chart_version,
            values=[VALUES_FILE.read_text(), yaml.safe_dump(computed_values(settings), sort_keys=True)],
        )
        self.url = f"http://{RELEASE_NAME}-api-server.{settings.airflow_namespace}"


def computed_values(settings: Settings) -> dict:
    """Values that depend on settings and infra outputs; merged over helm/values.yaml."""
    return {
        "defaultAirflowTag": settings.airflow_image_tag,
        "airflowVersion": settings.airflow_image_tag,
    }
