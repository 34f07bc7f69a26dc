"""The monthly cost of each profile, line by line, from the synthesized stack, the rendered
chart and `docs/monthly-cost.yaml`; and the same workload on MWAA.

`python -m tools.costs` prints docs/costs.md's cost table (it synthesizes and renders both
profiles); `tests/test_costs.py` checks docs/costs.md against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from airflow_platform.capacity import INSTANCE_TYPES
from airflow_platform.constructs.managed_prometheus import SCRAPE_INTERVAL
from airflow_platform.settings import Settings

PRICES_FILE = Path(__file__).resolve().parent.parent / "docs" / "monthly-cost.yaml"


@dataclass(frozen=True)
class Line:
    what: str
    at_min: float
    at_max: float


def load_prices(path: Path = PRICES_FILE) -> dict:
    return yaml.safe_load(path.read_text())


def _gib(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Gi|Mi|Ti)?", quantity).groups()
    return float(number) * {"Gi": 1, "Mi": 1 / 1024, "Ti": 1024, None: 1 / 1024 ** 3}[unit]


def release_volumes_gib(manifests: list[dict], workers_min: int, workers_max: int) -> tuple[float, float]:
    """GiB of the release's volume claims with `workers_min` and with `workers_max` workers
    (KEDA, not the StatefulSet, sets the workers' count when it scales them)."""
    at_min = at_max = 0.0
    for sts in (m for m in manifests if m.get("kind") == "StatefulSet"):
        per_pod = sum(_gib(t["spec"]["resources"]["requests"]["storage"])
                      for t in sts["spec"].get("volumeClaimTemplates", []))
        replicas = sts["spec"].get("replicas", 1)
        worker = sts["metadata"]["name"].endswith("-worker")
        at_min += per_pod * (workers_min if worker else replicas)
        at_max += per_pod * (workers_max if worker else replicas)
    return at_min, at_max


def monthly_lines(s: Settings, infra: dict, manifests: list[dict], data: dict) -> list[Line]:
    p, a, hours = data["prices"], data["assumptions"], data["hours_per_month"]
    node_hour = max(INSTANCE_TYPES[t].usd_per_hour for t in s.node_instance_types)
    resources = infra["resource"]
    nat_gateways = len(resources.get("aws_nat_gateway", {}))
    multi_az = 2 if s.choices.db_multi_az else 1
    volumes_min, volumes_max = release_volumes_gib(manifests, s.celery_worker_min_replicas, workers_at_max(s))
    secrets = len(resources.get("aws_secretsmanager_secret", {})) + 1  # + the RDS-managed master secret
    alarms = len(resources.get("aws_cloudwatch_metric_alarm", {}))

    # An internet-facing NLB has a public IPv4 address in each AZ's subnet, billed by the hour; an internal one none.
    public_ips = len(s.availability_zones) if s.ui_exposure == "internet-facing" else 0

    def fixed(what: str, value: float) -> Line:
        return Line(what, value, value)

    return [
        fixed("EKS control plane", p["eks_cluster_hour"] * hours),
        Line(f"nodes ({', '.join(s.node_instance_types)}, on demand)", node_hour * hours * s.node_min_size,
             node_hour * hours * s.node_max_size),
        Line("node root volumes (gp3)", s.node_disk_size_gib * p["ebs_gp3_gb_month"] * s.node_min_size,
             s.node_disk_size_gib * p["ebs_gp3_gb_month"] * s.node_max_size),
        fixed(f"NAT gateways ({nat_gateways}, {a['nat_gb_month']} GB processed)",
              nat_gateways * p["nat_gateway_hour"] * hours + a["nat_gb_month"] * p["nat_gateway_gb"]),
        fixed(f"RDS {s.db_instance_class}{' multi-AZ' if s.choices.db_multi_az else ''}",
              p["rds_instance_hour"][s.db_instance_class] * hours * multi_az),
        fixed(f"RDS storage ({s.db_allocated_storage_gib} GiB gp3)",
              s.db_allocated_storage_gib * p["rds_gp3_gb_month"] * multi_az),
        Line("Airflow volumes (workers, triggerer, Redis; gp3)", volumes_min * p["ebs_gp3_gb_month"],
             volumes_max * p["ebs_gp3_gb_month"]),
        fixed(f"Network Load Balancer ({s.ui_exposure}, {a['nlb_lcus']} LCU"
              + (f", {public_ips} public IPv4)" if public_ips else ")"),
              (p["nlb_hour"] + a["nlb_lcus"] * p["nlb_lcu_hour"] + public_ips * p["public_ipv4_hour"]) * hours),
        fixed(f"CloudWatch Logs ({a['logs_gb_month']} GB ingested)", a["logs_gb_month"] * p["cloudwatch_logs_gb"]),
        # Ingested once, then kept for the retention (at most the ingested volume x retention months).
        fixed(f"component logs ({a['component_logs_gb_month']} GB/month, kept {s.component_log_retention_days} days)",
              a["component_logs_gb_month"] * (p["cloudwatch_logs_gb"] + p["cloudwatch_logs_stored_gb_month"]
                                               * s.component_log_retention_days / 30)),
        fixed(f"Managed Prometheus (1 collector, {a['amp_active_series']} series every {SCRAPE_INTERVAL})",
              p["amp_collector_hour"] * hours + amp_samples_month(a["amp_active_series"], hours) / 1e7
              * (p["amp_collected_10m_samples"] + p["amp_ingested_10m_samples"])),
        fixed(f"CloudWatch alarms ({alarms})", alarms * p["cloudwatch_alarm_month"]),
        fixed(f"KMS keys ({len(resources.get('aws_kms_key', {}))}) and secrets ({secrets})",
              len(resources.get("aws_kms_key", {})) * p["kms_key_month"] + secrets * p["secret_month"]),
    ]


def amp_samples_month(series: int, hours: int) -> float:
    """Samples the collector takes (and AMP ingests) in a month: one per series per scrape."""
    seconds = int(SCRAPE_INTERVAL.rstrip("s"))
    return series * hours * 3600 / seconds


def workers_at_max(s: Settings) -> int:
    return s.celery_worker_max_replicas if s.celery_worker_autoscaling else s.celery_worker_min_replicas


def mwaa_monthly(s: Settings, data: dict, workers: int) -> float:
    """MWAA with the same always-on workers: the environment includes one worker."""
    p, a, hours = data["prices"], data["assumptions"], data["hours_per_month"]
    size = a["mwaa_class"][s.profile]
    return (p["mwaa_environment_hour"][size] * hours + max(workers - 1, 0) * p["mwaa_worker_hour"][size] * hours
            + a["mwaa_metadata_gb"] * p["mwaa_metadata_gb_month"])


def markdown_table(profiles: dict[str, tuple[Settings, dict, list[dict]]], data: dict) -> str:
    """One column pair (minimum, maximum) per profile."""
    lines = {name: monthly_lines(s, infra, manifests, data) for name, (s, infra, manifests) in profiles.items()}
    names = list(profiles)
    header = "| line (from the dev profile's settings) | " + " | ".join(f"{n} at min | {n} at max" for n in names) + " |"
    rows = [header, "|---|" + "---:|---:|" * len(names)]
    for i, first in enumerate(lines[names[0]]):
        cells = " | ".join(f"${lines[n][i].at_min:,.0f} | ${lines[n][i].at_max:,.0f}" for n in names)
        rows.append(f"| {first.what} | {cells} |")
    totals = " | ".join(f"**${sum(l.at_min for l in lines[n]):,.0f}** | **${sum(l.at_max for l in lines[n]):,.0f}**"
                        for n in names)
    rows.append(f"| **total a month** | {totals} |")
    mwaa = []
    for n in names:
        s = profiles[n][0]
        mwaa.append(f"${mwaa_monthly(s, data, s.celery_worker_min_replicas):,.0f} | "
                    f"${mwaa_monthly(s, data, workers_at_max(s)):,.0f}")
    classes = ", ".join(f"{n} {data['assumptions']['mwaa_class'][n]}" for n in names)
    rows.append(f"| MWAA, same workers ({classes}) | {' | '.join(mwaa)} |")
    return "\n".join(rows)


def _profiles() -> dict[str, tuple[Settings, dict, list[dict]]]:
    import json
    import tempfile

    from airflow_platform.app import synthesize
    from airflow_platform.settings import load_settings
    from tools.chart_render import TerraformValues, render_release

    out = {}
    for profile in ("dev", "prod"):
        s = load_settings(environ={"AIRFLOW_PLATFORM_PROFILE": profile})
        with tempfile.TemporaryDirectory() as tmp:
            outdir = synthesize(s, tmp)
            stacks = {n: json.loads((outdir / "stacks" / n / "cdk.tf.json").read_text()) for n in ("infra", "apps")}
        [release] = [r for r in stacks["apps"]["resource"]["helm_release"].values() if r["chart"] == "airflow"]
        rendered = render_release(release, TerraformValues(stacks), kube_version=f"{s.eks_version}.0")
        out[profile] = (s, stacks["infra"], rendered.manifests)
    return out


if __name__ == "__main__":
    print(markdown_table(_profiles(), load_prices()))
