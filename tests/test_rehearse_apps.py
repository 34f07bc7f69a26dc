"""The apps rehearsal (tools/rehearse_apps): its parts, the whole run, and proof that it fails
for what it must catch.

The whole run needs Linux, root (a private network and mount namespace) and the servers
(PostgreSQL, PgBouncer, Redis). Where they are missing it is skipped with the reason, except
in CI (`CI=true`), where it fails: CI must never pass without running it.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from airflow_platform.airflow_identity import AIRFLOW_DB_ROLE
from paths import REPO


@pytest.fixture(scope="module")
def filled(synth, tmp_path_factory):
    from tools.rehearse_apps.secret_values import SecretFiller

    filler = SecretFiller(synth.infra, synth.apps)
    return filler, filler.evaluate(tmp_path_factory.mktemp("secrets"))


@pytest.mark.terraform
def test_every_secret_is_filled_by_terraform_from_the_stack_expressions(synth, filled):
    filler, secrets = filled
    created = {c["metadata"]["name"] for c in synth.apps["resource"]["kubernetes_secret_v1"].values()}
    assert set(secrets) == created
    master = filler.master_secret()
    metadata = urlparse(secrets["airflow-metadata"]["connection"])
    # Airflow signs in as its own role; the master password (Terraform never reads it) is in no Secret.
    assert metadata.username == AIRFLOW_DB_ROLE
    assert not [name for name, data in secrets.items() for value in data.values() if master["password"] in value]
    password = unquote(metadata.password)
    users = secrets["airflow-pgbouncer-config"]["users.txt"]
    assert users == f'"{AIRFLOW_DB_ROLE}" "{password.replace(chr(34), chr(34) * 2)}"\n'
    assert len(base64.urlsafe_b64decode(secrets["airflow-fernet-key"]["fernet-key"])) == 32
    redis = urlparse(secrets["airflow-broker-url"]["connection"])
    assert redis.password == secrets["airflow-redis-password"]["password"]


def test_services_keep_their_rendered_ports(rendered):
    from tools.rehearse_apps.wiring import plan

    wiring = plan(rendered)
    api = wiring.service("airflow-api-server")
    # 80 -> the container's port 8080: an address of its own, where only port 80 is forwarded
    assert api.forwarded and [(p.port, p.target_port) for p in api.ports] == [(80, 8080)]
    assert api.address not in wiring.pod_address.values()
    assert "airflow-pgbouncer.airflow.svc.cluster.local" in wiring.hosts_file()


def test_the_rendered_pods_that_run_task_code_search_the_platforms_secret_prefixes(synth, rendered):
    """Where the rehearsal seeds the orders pipeline's connection and variable: the prefixes the
    rendered workers (and triggerer) search; no other Airflow pod searches Secrets Manager."""
    from tools.chart_render import pod_spec
    from tools.rehearse_apps.pipeline_secrets import Prefixes, worker_base_path, worker_prefixes
    from tools.rehearse_apps.pods import MOUNT_ROOTS

    prefix = synth.settings.prefix
    expected = Prefixes(f"{prefix}/airflow/connections", f"{prefix}/airflow/variables")
    assert worker_prefixes(rendered) == worker_prefixes(rendered, "airflow-triggerer") == expected
    # The seeded Variable's path lies in what the rehearsal gives the worker pod as its own
    # filesystem: a CI clone under /tmp gets no private /tmp, and must not write to the host's.
    assert any(worker_base_path(rendered).startswith(root + "/") for root in MOUNT_ROOTS)
    for workload in rendered.workloads():
        if workload["metadata"]["name"] in ("airflow-worker", "airflow-triggerer"):
            continue
        spec = pod_spec(workload)
        names = [e["name"] for c in spec.get("initContainers", []) + spec["containers"] for e in c.get("env", [])]
        assert not any(n.startswith(("AIRFLOW__WORKERS__SECRETS", "AIRFLOW__SECRETS__")) for n in names), \
            workload["metadata"]["name"]


def test_a_url_naming_a_port_no_service_offers_is_named(rendered):
    from tools.rehearse_apps.wiring import plan

    wiring = plan(rendered)
    assert wiring.url_problem("http://airflow-api-server:80/execution/") is None
    assert "does not offer" in wiring.url_problem("http://airflow-api-server:8080/execution/")
    assert "not the name of any Service" in wiring.url_problem("postgresql://u:p@airflow-pgbouncer.other:6543/x")
    assert wiring.url_problem("s3://bucket/prefix") is None


# --- the whole run ---------------------------------------------------------------------------


def _require_machine() -> None:
    from tools.rehearse_apps.servers import MissingServer, check_installed
    from tools.rehearse_apps.wiring import namespace_problem

    problem = namespace_problem()
    if problem is None:
        try:
            check_installed(REPO / ".venv" / "bin" / "airflow")
        except MissingServer as err:
            problem = str(err)
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the apps rehearsal cannot run: {problem}", pytrace=False)
        pytest.skip(f"the apps rehearsal cannot run here: {problem}")


def _rehearse(outdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    _require_machine()
    return subprocess.run([sys.executable, "-m", "tools.rehearse_apps", "--stacks", str(outdir), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _with_apps(synth, tmp_path: Path, change) -> Path:
    """A copy of the synthesized stacks with the apps stack changed by `change(apps)`."""
    apps = copy.deepcopy(synth.apps)
    change(apps)
    for stack, data in (("infra", synth.infra), ("apps", apps)):
        (tmp_path / "stacks" / stack).mkdir(parents=True)
        (tmp_path / "stacks" / stack / "cdk.tf.json").write_text(json.dumps(data))
    return tmp_path


def _pgbouncer_ini(apps: dict, edit) -> None:
    for secret in apps["resource"]["kubernetes_secret_v1"].values():
        data = secret.get("data_wo") or secret.get("data") or {}
        if "pgbouncer.ini" in data:
            data["pgbouncer.ini"] = edit(data["pgbouncer.ini"])


@pytest.mark.apps_rehearsal
def test_the_apps_stack_runs_end_to_end(synth, rendered, tmp_path):
    capture = tmp_path / "statsd.json"
    result = _rehearse(synth.outdir, "--statsd-capture", str(capture))
    print(result.stdout[-20000:])
    assert result.returncode == 0, f"the rehearsal failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert "rehearsal PASSED" in result.stdout
    # the orders pipeline read its connection and variable from moto's Secrets Manager, and
    # failed with Airflow's own error once the connection's secret was gone
    assert "read orders_source and orders_etl_base_path from Secrets Manager" in result.stdout
    assert "extract failed: The conn_id `orders_source` isn't defined" in result.stdout
    # A DAG that imports a package of requirements.txt (python-stdnum), which the official image
    # lacks (absent from Airflow's constraints file, from which the image installs) and .venv too:
    # it parses and runs only because the rehearsal installed requirements.txt for Airflow.
    assert "requirements.txt on PYTHONPATH" in result.stdout
    assert "validate_order_codes: " in result.stdout and "run(s) succeeded" in result.stdout

    _alerts_hold_on_what_airflow_sent(capture, rendered, tmp_path)


def test_the_team_package_is_not_in_the_shared_environment():
    """Otherwise the rehearsal's validate_order_codes would prove nothing about requirements.txt."""
    # In a fresh interpreter without PYTHONPATH: tests/dags/conftest.py puts the install on sys.path.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run([sys.executable, "-c", "import importlib.util as u; print(u.find_spec('stdnum'))"],
                           capture_output=True, text=True, env=env, cwd="/", check=True)
    assert probe.stdout.strip() == "None", "python-stdnum is in .venv: the DAG proves no install"
    assert "python-stdnum==" in (REPO / "requirements.txt").read_text()



def _alerts_hold_on_what_airflow_sent(capture: Path, rendered, tmp_path: Path) -> None:
    """What real Airflow 3.3.2 components sent to StatsD in the run (the exporter is not run:
    tools/rehearse_apps/statsd_capture.py models its naming, from the chart's rendered mapping):
    (1) every metric an alert rule or a dashboard panel reads is one of them; (2) the stopped
    scheduler's heartbeat series, as the exporter would expose it, stays quiet while the
    scheduler ran and fires the alert 5 minutes after the stop (promtool 2.42; AMP's ruler
    evaluates the same PromQL, see tests/test_alert_rules.py)."""
    import shutil

    import yaml

    from airflow_platform.constructs.managed_prometheus import RULES_FILE
    from airflow_platform.observability.dashboard import dashboard, promql_expressions
    from test_alert_rules import run_promtool
    from tools.promql_names import metric_names
    from tools.rehearse_apps.statsd_capture import StatsdMapping, heartbeat_rule_test, prometheus_names, read_capture

    samples, stopped_at = read_capture(capture)
    sent = prometheus_names(samples, StatsdMapping.from_rendered(rendered.manifests))
    rules = [r["expr"] for g in yaml.safe_load(RULES_FILE.read_text())["groups"] for r in g["rules"]]
    used = {name for expr in rules + promql_expressions(dashboard()) for name in metric_names(expr)}
    assert used <= sent, f"never sent by Airflow in the rehearsal: {sorted(used - sent)}; sent: {sorted(sent)}"
    assert stopped_at is not None
    shutil.copy(RULES_FILE, tmp_path)
    [heartbeat] = [r for g in yaml.safe_load(RULES_FILE.read_text())["groups"] for r in g["rules"]
                   if r["alert"] == "AirflowSchedulerHeartbeatMissing"]
    (tmp_path / "heartbeat.test.yml").write_text(yaml.safe_dump(heartbeat_rule_test(
        samples, stopped_at, RULES_FILE.name, annotations=heartbeat["annotations"])))
    result = run_promtool("test", "rules", "heartbeat.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.apps_rehearsal
@pytest.mark.parametrize("sabotage, expected", [
    pytest.param(lambda ini: ini.replace("airflow-metadata =", "airflow-meta ="),
                 'no such database: airflow-metadata', id="pgbouncer-database-name"),
    pytest.param(lambda ini: ini.replace("server_tls_sslmode = require", "server_tls_sslmode = disable"),
                 "no encryption", id="plain-text-to-postgres"),
])
def test_the_rehearsal_fails_for_a_broken_database_path(synth, tmp_path, sabotage, expected):
    outdir = _with_apps(synth, tmp_path, lambda apps: _pgbouncer_ini(apps, sabotage))
    result = _rehearse(outdir, "--runs", "1")
    assert result.returncode != 0, result.stdout[-4000:]
    assert expected in result.stdout, result.stdout[-6000:]
    assert "rehearsal FAILED" in result.stdout


@pytest.mark.terraform
def test_a_new_password_version_rewrites_only_the_secrets_built_from_it(synth, tmp_path):
    from tools.db_password_rotation import rotation_steps
    from tools.rehearse_apps.rotation import passwords_in
    from tools.rehearse_apps.secret_values import SecretFiller

    filler = SecretFiller(synth.infra, synth.apps)
    before = filler.evaluate(tmp_path / "before")
    [arn] = [a for a in filler.store if a.endswith("/airflow/db-password")]
    filler.put_value(arn, 'n3w"pass@word')
    after = filler.evaluate(tmp_path / "after")
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {s.name for s in rotation_steps(synth.apps) if s.kind == "secret"}
    assert all(passwords_in(after[name]) == {'n3w"pass@word'} for name in changed - {"airflow-pgbouncer-config"})
    assert passwords_in(after["airflow-pgbouncer-config"]) == {'n3w"pass@word'}
    assert filler.store[arn] == 'n3w"pass@word'


@pytest.mark.apps_rehearsal
def test_the_rehearsal_fails_when_the_secrets_do_not_wait_for_the_job(synth, tmp_path):
    """The rotation follows the stack's order: Secrets that may be written before the Job
    (their depends_on removed) hand PgBouncer a password the database does not know yet."""
    from tools.db_password_rotation import bootstrap_job

    def unordered(apps):
        job = bootstrap_job(apps)
        for secret in apps["resource"]["kubernetes_secret_v1"].values():
            secret["depends_on"] = [d for d in secret.get("depends_on", []) if d != job]

    result = _rehearse(_with_apps(synth, tmp_path, unordered), "--runs", "1")
    assert result.returncode != 0, result.stdout[-4000:]
    assert "a consumer learned the new password before the database did" in result.stdout, result.stdout[-6000:]


@pytest.mark.terraform
def test_write_only_secrets_read_ephemerally_from_the_infra_stack_are_filled(tmp_path):
    """The shape of generated secrets kept in Secrets Manager (issue 12): drawn by an ephemeral
    random password in the infra stack, written write-only, read ephemerally by the apps stack
    through a cross-stack output into `kubernetes_secret_v1.data_wo`."""
    from tools.rehearse_apps.secret_values import SecretFiller

    output = "cross-stack-output-aws_secretsmanager_secretredisarn"
    infra = {
        "ephemeral": {"aws_secretsmanager_random_password": {"redis": {"password_length": 40,
                                                                        "exclude_punctuation": True}}},
        "resource": {
            "aws_secretsmanager_secret": {"redis": {"name": "airflow/redis"}},
            "aws_secretsmanager_secret_version": {"redis_value": {
                "secret_id": "${aws_secretsmanager_secret.redis.id}",
                "secret_string_wo": "${ephemeral.aws_secretsmanager_random_password.redis.random_password}",
                "secret_string_wo_version": 1}},
        },
        "output": {output: {"value": "${aws_secretsmanager_secret.redis.arn}"}},
    }
    read = "ephemeral.aws_secretsmanager_secret_version.airflow_redis.secret_string"
    apps = {
        "ephemeral": {"aws_secretsmanager_secret_version": {"airflow_redis": {
            "secret_id": "${data.terraform_remote_state.cross-stack-reference-input-infra.outputs." + output + "}"}}},
        "resource": {
            "kubernetes_namespace_v1": {"ns": {"metadata": {"name": "airflow"}}},
            "kubernetes_secret_v1": {
                "password": {"metadata": {"name": "airflow-redis-password"}, "data_wo": {"password": "${" + read + "}"}},
                "broker": {"metadata": {"name": "airflow-broker-url"}, "data_wo": {"connection": (
                    "redis://:${urlencode(" + read + ")}@airflow-redis.${kubernetes_namespace_v1.ns.metadata[0].name}"
                    ":6379/0")}},
            },
        },
    }
    secrets = SecretFiller(infra, apps).evaluate(tmp_path)
    password = secrets["airflow-redis-password"]["password"]
    assert len(password) == 40 and password.isalnum()
    assert secrets["airflow-broker-url"]["connection"] == f"redis://:{password}@airflow-redis.airflow:6379/0"
