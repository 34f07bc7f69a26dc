"""Keda: the official KEDA chart, which the Airflow chart's worker ScaledObject needs."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_helm.release import Release

from airflow_platform.autoscaling import KEDA_CHART, KEDA_CHART_VERSION, KEDA_NAMESPACE, KEDA_REPOSITORY
from airflow_platform.constructs.airflow_release import to_yaml

# What each of the chart's Deployments requests (capacity.py counts them), by its values key.
KEDA_RESOURCES = {
    "operator": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    "metricServer": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    "webhooks": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
}
# The KEDA chart's Deployment of each `resources` key.
KEDA_POD_NAMES = {"operator": "keda-operator", "metricServer": "keda-operator-metrics-apiserver",
                  "webhooks": "keda-admission-webhooks"}


class Keda(Construct):
    """Chart 2.20.2 in its own namespace, CRDs included (ScaledObject).

    The Airflow release depends on this one, so a single apply installs the CRD before the
    chart that creates a ScaledObject.
    """

    release: Release  # what the Airflow release waits for

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.release = Release(
            self, "release", name=KEDA_CHART, namespace=KEDA_NAMESPACE, create_namespace=True,
            repository=KEDA_REPOSITORY, chart=KEDA_CHART, version=KEDA_CHART_VERSION,
            values=[to_yaml(keda_values())], wait=True, atomic=True, cleanup_on_fail=True, max_history=10,
        )


def keda_values() -> dict:
    return {"crds": {"install": True}, "resources": KEDA_RESOURCES}
