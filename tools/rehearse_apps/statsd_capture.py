"""What Airflow sent to StatsD in the rehearsal, and the Prometheus names the chart's StatsD
exporter would give it.

The capture (`--statsd-capture`) is JSON: `lines`, one per StatsD line received,
`<seconds since start> <name>:<value>|<type>`, and `scheduler_stopped_at` (seconds).
The names follow the mapping the chart renders into the `<release>-statsd` ConfigMap
(`files/statsd-mappings.yml` in the chart). Where this differs from the real exporter
(prometheus/statsd_exporter, `pkg/mapper/mapper.go`): a glob `*` matches one dot-separated
component, a regex match is searched (not anchored) as Go's `regexp.FindStringSubmatchIndex`
does, and an unmapped name has every character outside `[a-zA-Z0-9_]` replaced by `_`
(`pkg/mapper/escape.go`). The exporter's own label `type: counter` on a few mappings, its
cache TTL, and its summaries/histograms for timers are not modelled: only names are checked here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the rehearsal started
    name: str  # StatsD name, e.g. airflow.scheduler_heartbeat
    value: float
    kind: str  # c (counter), g (gauge), ms (timer), s (set)


def parse_lines(at: float, datagram: bytes) -> list[str]:
    """One StatsD datagram, which may carry several lines (`name:value|type[|@rate]`)."""
    return [f"{at:.3f} {line}" for line in datagram.decode("utf-8", "replace").splitlines() if line.strip()]


HEARTBEAT = "airflow.scheduler_heartbeat"


def heartbeats_between(lines: list[str], start: float, end: float) -> int:
    return sum(1 for s in parse_samples(lines) if s.name == HEARTBEAT and start < s.at <= end)


def read_capture(path: Path) -> tuple[list[Sample], float]:
    """The samples, and when the scheduler was stopped."""
    data = json.loads(path.read_text())
    return parse_samples(data["lines"]), data["scheduler_stopped_at"]


def parse_samples(lines: list[str]) -> list[Sample]:
    samples = []
    for line in lines:
        at, body = line.split(" ", 1)
        name, rest = body.split(":", 1)
        value, kind = rest.split("|")[:2]
        samples.append(Sample(float(at), name, float(value), kind))
    return samples


def _glob_regex(pattern: str) -> re.Pattern:
    return re.compile("^" + r"\.".join("([^.]+)" if part == "*" else re.escape(part)
                                       for part in pattern.split(".")) + "$")


class StatsdMapping:
    """The exporter's mapping config: the first matching rule names the metric."""

    def __init__(self, mappings_yml: str) -> None:
        self.rules = []
        for rule in yaml.safe_load(mappings_yml).get("mappings", []):
            regex = re.compile(rule["match"]) if rule.get("match_type") == "regex" else _glob_regex(rule["match"])
            self.rules.append((regex, rule["name"], rule.get("labels") or {}))

    @classmethod
    def from_rendered(cls, manifests: list[dict]) -> "StatsdMapping":
        [config] = [m for m in manifests if m.get("kind") == "ConfigMap" and "mappings.yml" in (m.get("data") or {})]
        return cls(config["data"]["mappings.yml"])

    def prometheus_name(self, statsd_name: str) -> str:
        for regex, name, _labels in self.rules:
            if regex.search(statsd_name):
                return name
        return re.sub(r"[^a-zA-Z0-9_]", "_", statsd_name)


def prometheus_names(samples: list[Sample], mapping: StatsdMapping) -> set[str]:
    return {mapping.prometheus_name(s.name) for s in samples}


def counter_series(samples: list[Sample], statsd_name: str, step: float, until: float) -> list[float]:
    """The cumulative counter the exporter would expose for `statsd_name`, read every `step`
    seconds from 0 to `until` (a scrape every `step`): what Prometheus would store."""
    hits = sorted((s.at, s.value) for s in samples if s.name == statsd_name and s.kind == "c")
    values, total, i, t = [], 0.0, 0, 0.0
    while t <= until:
        while i < len(hits) and hits[i][0] <= t:
            total += hits[i][1]
            i += 1
        values.append(total)
        t += step
    return values


def heartbeat_rule_test(samples: list[Sample], stopped_at: float, rule_file: str, *, annotations: dict[str, str],
                        step: float = 15, after: float = 360) -> dict:
    """A `promtool test rules` file on the captured heartbeat: the counter the exporter
    exposes, read every `step` seconds from the first heartbeat to the scheduler's stop, then
    `after` seconds more at its last value (the exporter keeps a counter nobody increments;
    statsd_exporter has no TTL unless configured, and the chart sets none). The alert must stay
    quiet every minute while the scheduler ran (its restarts included) and fire once it has
    been gone 5 minutes."""
    beats = [s.at for s in samples if s.name == HEARTBEAT]
    if not beats:
        raise ValueError(f"no {HEARTBEAT} in the capture")
    start = min(beats)
    shifted = [Sample(s.at - start, s.name, s.value, s.kind) for s in samples if s.at >= start]
    running = counter_series(shifted, HEARTBEAT, step, stopped_at - start)
    values = running + [running[-1]] * int(after // step)
    ran = int((stopped_at - start) // 60)
    quiet = [{"eval_time": f"{m}m", "alertname": "AirflowSchedulerHeartbeatMissing", "exp_alerts": []}
             for m in range(1, ran + 1)]
    firing = {"eval_time": f"{int(stopped_at - start + after - step)}s", "alertname": "AirflowSchedulerHeartbeatMissing",
              "exp_alerts": [{"exp_labels": {"severity": "critical", "type": "counter"},
                                             "exp_annotations": annotations}]}
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": [{
        "interval": f"{int(step)}s",
        "input_series": [{"series": 'airflow_scheduler_heartbeat{type="counter"}',
                          "values": " ".join(f"{v:g}" for v in values)}],
        "alert_rule_test": quiet + [firing]}]}
