"""The typed props of AirflowRelease: what a caller decides, grouped, with documented defaults.

The stack maps settings onto these; the construct never sees the whole Settings object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class GitSync:
    """Where git-sync clones the DAGs from. A private repository needs one of the Secrets:
    `ssh_secret` (key `gitSshKey`, ssh URL) or `credentials_secret` (username and token, https URL)."""

    repo: str
    branch: str = "main"
    subpath: str = "dags"
    ssh_secret: str = ""
    credentials_secret: str = ""


@dataclass(frozen=True)
class CeleryWorkers:
    """`min_replicas` always run (the fixed count without autoscaling); with `autoscaling`, KEDA
    scales up to `max_replicas` on queued and running tasks (the KEDA chart must be installed first)."""

    min_replicas: int = 1
    max_replicas: int = 1
    autoscaling: bool = False


@dataclass(frozen=True)
class Availability:
    """Replicas of the stateless components, and whether a PodDisruptionBudget keeps one pod of
    each component up through node drains."""

    scheduler_replicas: int = 1
    api_server_replicas: int = 1
    pgbouncer_replicas: int = 1
    pod_disruption_budgets: bool = False


@dataclass(frozen=True)
class LoadBalancedUi:
    """The API server (web UI) behind an NLB reachable from `source_cidrs`: `internal` (the VPC, its
    peers, a VPN) or `internet-facing`; HTTPS on 443 with `certificate_arn` (ACM), else HTTP on 80.
    Settings refuse an internet-facing one without a certificate unless dev explicitly allows it."""

    source_cidrs: tuple[str, ...]
    certificate_arn: str = ""
    exposure: str = "internal"

    @property
    def internal(self) -> bool:
        return self.exposure == "internal"

    @property
    def scheme(self) -> str:
        return "https" if self.certificate_arn else "http"


@dataclass(frozen=True)
class InfraRefs:
    """What AirflowRelease needs from the infra stack (its outputs, as Terraform references)."""

    airflow_role_arns: Mapping[str, str]  # chart component -> its IRSA role; a component absent has none
    logs_bucket_name: str
    secrets_prefix: str  # settings.prefix: connections and variables are `<this>/airflow/{connections,variables}/*`
    secret_arns: dict[str, str]  # generated secret name -> Secrets Manager ARN
    master_secret_arn: str  # the RDS-managed master secret: only the role bootstrap Job reads it
    db_bootstrap_role_arn: str
