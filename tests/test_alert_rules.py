"""The Prometheus alerting rules (airflow_platform/observability/airflow-alerts.rules.yml) pass
`promtool check rules` and `promtool test rules`: the heartbeat and failure alerts fire on
series where they must and stay quiet on a healthy one.

Stand-in: promtool 2.42 (Debian's `prometheus` package) evaluates the rules; AMP evaluates
them in its own ruler (Cortex-based), which accepts Prometheus rule files with the same
PromQL but evaluates every group once a minute by default and sends to its alert manager
after `for` (AMP User Guide, "Recording rules and alerting rules"). The tests use a 1-minute
evaluation interval for that reason. promtool cannot prove that AMP accepts the file
(AMP-specific limits: rules per namespace, rule-file size).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from airflow_platform.constructs.managed_prometheus import OBSERVABILITY, RULES_FILE

TESTS_FILE = OBSERVABILITY / "airflow-alerts.test.yml"


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true and promtool is missing (.ci/run installs Debian's prometheus)", pytrace=False)
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_rules_are_valid_prometheus_rules():
    result = run_promtool("check", "rules", RULES_FILE.name, cwd=OBSERVABILITY)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_fire_on_a_dead_scheduler_and_failures_and_not_on_a_healthy_series():
    result = run_promtool("test", "rules", TESTS_FILE.name, cwd=OBSERVABILITY)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("broken, fixed", [
    # A heartbeat alert that only looks at a vanished series misses a dead scheduler: the
    # exporter keeps the counter at its last value.
    ("increase(airflow_scheduler_heartbeat[5m]) == 0 or absent_over_time(airflow_scheduler_heartbeat[5m])",
     "absent_over_time(airflow_scheduler_heartbeat[5m])"),
    ("sum(increase(airflow_ti_failures[15m])) > 3", "sum(increase(airflow_ti_failures[15m])) > 30"),
])
def test_the_rule_tests_fail_for_a_broken_rule(tmp_path, broken, fixed):
    rules = RULES_FILE.read_text()
    assert broken in rules
    (tmp_path / RULES_FILE.name).write_text(rules.replace(broken, fixed))
    shutil.copy(TESTS_FILE, tmp_path)
    result = run_promtool("test", "rules", TESTS_FILE.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr
