"""Every version this platform pins, when its support ends, and how to move off it.

docs/versions.md's version table is checked against this one. `end_of_support` is the day the
version stops being supported as pinned: for EKS the end of *standard* support (after it,
AWS bills extended support, six times the control-plane price), for RDS the end of
standard support of the major version (minor versions follow automatically). A version
the platform creates in AWS must be creatable and in standard support on the day someone
deploys: `tests/test_versions.py` fails once one is not, so the table is renewed before
a deploy breaks, not after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class PinnedVersion:
    what: str
    version: str
    where: str  # where it is pinned
    end_of_support: date | None  # None: no end announced
    source: str  # the text that decides the date
    upgrade: str  # the steps to the next version
    created_in_aws: bool = False  # created by a deploy: must be in standard support to deploy


# Pinned, not the newest (data aws_eks_addon_version): the DaemonSets' requests counted in
# capacity.py are this version's, and a plan must not change what runs on the nodes by itself.
CLOUDWATCH_OBSERVABILITY_ADDON = "v6.2.0-eksbuild.1"

PINNED: tuple[PinnedVersion, ...] = (
    PinnedVersion(
        "EKS (Kubernetes)", "1.35", "`eks_version` in cdktf.json", date(2027, 3, 27),
        "Amazon EKS Kubernetes release calendar (end of standard support)",
        "set `eks_version` to the next minor (one minor at a time), deploy: the control plane, then the "
        "vpc-cni and kube-proxy add-ons, then the node group (rolled to the new version), then CoreDNS and EBS "
        "CSI, each add-on at the newest version for the new minor; the Cluster Autoscaler image follows "
        "(docs/upgrading.md)", created_in_aws=True),
    PinnedVersion(
        "RDS PostgreSQL (major)", "16", "`db_engine_version` in cdktf.json", date(2029, 2, 28),
        "Amazon RDS for PostgreSQL release calendar (end of standard support of major 16); minor versions "
        "are applied automatically (`auto_minor_version_upgrade`)",
        "snapshot, set `db_engine_version` to the next major, deploy in a maintenance window (RDS runs "
        "pg_upgrade; the parameter group family follows)", created_in_aws=True),
    PinnedVersion(
        "Apache Airflow Helm chart", "1.21.0", "`chart_version` in cdktf.json", None,
        "chart release notes (1.22.0 is out; no end of support is announced for chart releases)",
        "read the chart's RELEASE_NOTES, bump `chart_version`, run `make test` (renders the new chart)"),
    PinnedVersion(
        "Airflow image", "3.3.2", "`airflow_image_tag` in cdktf.json, `apache-airflow` in Pipfile", None,
        "Airflow version life cycle (Airflow 3 is supported; patches land on the newest minor)",
        "bump the tag and the Pipfile pin together, `make test` (runs the DAGs and the apps rehearsal)"),
    PinnedVersion(
        "CloudWatch Observability EKS add-on", CLOUDWATCH_OBSERVABILITY_ADDON,
        "`CLOUDWATCH_OBSERVABILITY_ADDON` in airflow_platform/versions.py", None,
        "CloudWatch User Guide, \"Install the CloudWatch agent with the Amazon CloudWatch Observability EKS "
        "add-on\" (names v6.2.0-eksbuild.1); its pods' requests are the chart 6.2.0's (capacity.py)",
        "`aws eks describe-addon-versions --addon-name amazon-cloudwatch-observability --kubernetes-version "
        "<eks_version>`; bump it with `eks_version`, re-read the chart's requests into capacity.py, `make test`"),
    PinnedVersion(
        "Terraform", "1.11.4", "`.github/workflows/*.yml`", None,
        "HashiCorp Terraform releases (1.10+ needed for ephemeral values, 1.11+ for write-only attributes)",
        "bump the workflows' version, `make test` (runs real Terraform)"),
    PinnedVersion(
        "Terraform AWS provider", "5.100.0", "cdktf-cdktf-provider-aws 20.1.0 in Pipfile", None,
        "the last provider package CDKTF 0.21 generated; aws 6.x has no prebuilt CDKTF package",
        "only with a regenerated provider package (`cdktf get`)"),
    PinnedVersion(
        "Terraform helm / kubernetes providers", "3.1.1 / 2.38.0", "cdktf-cdktf-provider-helm 12.1.2, "
        "-kubernetes 12.1.1 in Pipfile", None, "the provider packages CDKTF 0.21 generated",
        "only with regenerated provider packages"),
    PinnedVersion(
        "CDKTF", "0.21.0", "Pipfile, package.json", date(2025, 12, 10),
        "HashiCorp archived CDKTF in December 2025; 0.21.0 is its last release",
        "none upstream: the synthesized JSON is plain Terraform and keeps working"),
    PinnedVersion(
        "Node.js (CI, deploys)", "22", "`.github/workflows/*.yml`, package.json engines", date(2027, 4, 30),
        "Node.js release schedule (22 is LTS until 2027-04-30). Not 24: cdktf-cli 0.21.0's "
        "@cdktf/node-pty-prebuilt-multiarch 0.10.2 ships binaries up to Node 22 only",
        "bump `node-version` in the workflows once cdktf-cli runs on the next LTS"),
    PinnedVersion(
        "Python", "3.11", "Pipfile (`python_version`), workflows", date(2027, 10, 31),
        "Python release schedule (3.11 security support ends October 2027)",
        "bump the workflows and the Pipfile, `pipenv lock`, `make test`"),
)


def expired(today: date) -> list[PinnedVersion]:
    """Versions a deploy creates in AWS that are past their end of standard support."""
    return [v for v in PINNED if v.created_in_aws and v.end_of_support and v.end_of_support <= today]


# End of standard support per EKS minor version (Amazon EKS Kubernetes release calendar).
# After it a cluster runs on extended support, billed at six times the standard rate.
EKS_STANDARD_SUPPORT_ENDS: dict[str, date] = {
    "1.32": date(2026, 3, 23),
    "1.33": date(2026, 7, 29),
    "1.34": date(2026, 12, 2),
    "1.35": date(2027, 3, 27),
}


def previous_eks_version(version: str) -> str:
    """The minor before `version` in the table above: where an upgrade to `version` starts (EKS
    upgrades a control plane one minor at a time, EKS User Guide, update-cluster)."""
    older = sorted((v for v in EKS_STANDARD_SUPPORT_ENDS if _minor(v) < _minor(version)), key=_minor)
    if not older:
        raise ValueError(f"eks_version {version}: no earlier version in this platform's table of EKS versions "
                         f"({', '.join(EKS_STANDARD_SUPPORT_ENDS)}) to upgrade from")
    return older[-1]


def _minor(version: str) -> int:
    return int(version.split(".")[1])


# Cluster Autoscaler releases by Kubernetes minor version: the autoscaler's minor must
# match the cluster's (its simulation embeds that version's scheduler).
CLUSTER_AUTOSCALER_TAGS: dict[str, str] = {"1.33": "v1.33.0", "1.34": "v1.34.0", "1.35": "v1.35.0"}


def cluster_autoscaler_tag(eks_version: str) -> str | None:
    return CLUSTER_AUTOSCALER_TAGS.get(eks_version)


def eks_support_warning(version: str, today: date) -> str | None:
    """A warning when `version` is (nearly) out of EKS standard support, or unknown here."""
    ends = EKS_STANDARD_SUPPORT_ENDS.get(version)
    if ends is None:
        return (f"eks_version {version} is not in this platform's table of EKS versions "
                f"({', '.join(EKS_STANDARD_SUPPORT_ENDS)}): check its support dates before deploying")
    if ends <= today:
        return (f"eks_version {version} left EKS standard support on {ends}: a new cluster runs on paid "
                f"extended support; the upgrade policy STANDARD makes EKS upgrade it instead")
    return None
