"""The Airflow release: merged values valid for the real chart schema, secrets by reference only."""

from __future__ import annotations

import os
import re

import jsonschema
import pytest
import yaml

from airflow_platform.airflow_identity import AIRFLOW_COMPONENTS, service_account_name
from airflow_platform.constructs.airflow_release import CHART_KEYS, VALUES_FILE
from tf_json import chart_release, only, release_values, resources
from tools.airflow_chart import ChartUnavailable, defaults, merge_values, schema

TOKEN = re.compile(r"^\$\{[^}]+\}$")


@pytest.fixture(scope="module")
def chart(synth):
    version = synth.settings.chart_version
    try:
        return {"defaults": defaults(version), "schema": schema(version)}
    except ChartUnavailable as err:
        if os.environ.get("REQUIRE_CHART_SCHEMA") == "1":  # set by .ci/run: CI must not skip these
            pytest.fail(f"REQUIRE_CHART_SCHEMA=1 and {err}")
        pytest.skip(f"the chart's schema is needed and unavailable: {err}")


def merged(stack, chart) -> dict:
    static, computed = release_values(stack)
    return merge_values(merge_values(chart["defaults"], static), computed)


def test_merged_values_validate_against_the_chart_schema(rendered_variant, chart):
    """The values files exactly as the render passed them to helm (references resolved)."""
    variant, _, rendered = rendered_variant
    values = chart["defaults"]
    for text in rendered.values_files:
        values = merge_values(values, yaml.safe_load(text))
    errors = sorted(jsonschema.Draft7Validator(chart["schema"]).iter_errors(values), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors[:20])


def test_every_top_level_key_is_a_chart_value(synth, chart):
    """The schema accepts unknown top-level keys, so a typo like `schedulr:` would pass silently."""
    known = set(chart["schema"]["properties"])
    static, computed = release_values(synth.apps)
    assert set(static) <= known, set(static) - known
    assert set(computed) <= known, set(computed) - known
    assert set(yaml.safe_load(VALUES_FILE.read_text())) == set(static)


def test_the_chart_is_pinned_and_terraform_friendly(synth, chart):
    release = chart_release(synth.apps, "airflow")
    assert (release["repository"], release["chart"], release["version"]) == ("https://airflow.apache.org", "airflow",
                                                                               "1.21.0")
    assert release["wait"] is True and release["atomic"] is True
    assert release["timeout"] >= 600
    values = merged(synth.apps, chart)
    assert values["migrateDatabaseJob"]["useHelmHooks"] is False
    assert values["createUserJob"]["useHelmHooks"] is False
    assert values["defaultAirflowTag"] == values["airflowVersion"] == synth.settings.airflow_image_tag == "3.3.2"


def test_components(synth, chart):
    values = merged(synth.apps, chart)
    assert values["executor"] == "CeleryExecutor"
    assert values["postgresql"]["enabled"] is False
    for component in ("pgbouncer", "redis", "statsd", "triggerer", "dagProcessor"):
        assert values[component]["enabled"] is True, component
    assert values["scheduler"].get("enabled", True) is True and values["apiServer"].get("enabled", True) is True


def test_every_component_has_requests_and_limits(synth, chart):
    values = merged(synth.apps, chart)
    containers = {
        "scheduler": values["scheduler"], "apiServer": values["apiServer"], "dagProcessor": values["dagProcessor"],
        "triggerer": values["triggerer"], "workers.celery": values["workers"]["celery"],
        "pgbouncer": values["pgbouncer"], "pgbouncer exporter": values["pgbouncer"]["metricsExporterSidecar"],
        "redis": values["redis"], "statsd": values["statsd"], "git-sync": values["dags"]["gitSync"],
        "migrateDatabaseJob": values["migrateDatabaseJob"], "createUserJob": values["createUserJob"],
        "scheduler log groomer": values["scheduler"]["logGroomerSidecar"],
        "workers log groomer": values["workers"]["logGroomerSidecar"],
        "triggerer log groomer": values["triggerer"]["logGroomerSidecar"],
        "dag-processor log groomer": values["dagProcessor"]["logGroomerSidecar"],
    }
    for name, component in containers.items():
        resources_ = component["resources"]
        assert resources_.get("requests", {}).get("cpu") and resources_["requests"].get("memory"), name
        assert resources_.get("limits", {}).get("memory"), name


def test_secrets_are_referenced_never_inlined(synth, chart):
    secret_names = {f"${{kubernetes_secret_v1.{n}.metadata[0].name}}" for n in resources(synth.apps, "kubernetes_secret_v1")}
    _, computed = release_values(synth.apps)
    refs = [computed["fernetKeySecretName"], computed["apiSecretKeySecretName"], computed["jwtSecretName"],
            *computed["data"].values(), computed["redis"]["passwordSecretName"],
            computed["pgbouncer"]["configSecretName"], computed["pgbouncer"]["metricsExporterSidecar"]["statsSecretName"]]
    assert set(refs) <= secret_names and len(set(refs)) == len(refs) == 9
    values = merged(synth.apps, chart)
    for key in ("fernetKey", "apiSecretKey", "jwtSecret", "webserverSecretKey"):
        assert not values.get(key), key
    assert not values["data"].get("brokerUrl") and not values["redis"].get("password")
    assert values["data"]["metadataConnection"]["pass"] == chart["defaults"]["data"]["metadataConnection"]["pass"] \
        and "metadataSecretName" in values["data"]  # the connection block is unused when a Secret is named
    # Every Secret's data is write-only, read from Secrets Manager ephemerally, never written in the code.
    for secret in resources(synth.apps, "kubernetes_secret_v1").values():
        assert "data" not in secret
        for key, value in secret["data_wo"].items():
            assert "${" in value, f"{secret['metadata']['name']}.{key} is a literal"


def secrets_by_name(stack) -> dict[str, dict]:
    return {s["metadata"]["name"]: s for s in resources(stack, "kubernetes_secret_v1").values()}


def ephemeral_of(stack, generated: str) -> str:
    """The ephemeral read of the generated secret `generated`, checked to come from the infra output."""
    name = f"airflow_{generated.replace('-', '_')}"
    secret_id = stack["ephemeral"]["aws_secretsmanager_secret_version"][name]["secret_id"]
    assert f"cross-stack-output-aws_secretsmanager_secretairflow_secrets_{generated.replace('-', '_')}" in secret_id
    return f"ephemeral.aws_secretsmanager_secret_version.{name}.secret_string"


def current_version(stack, generated: str) -> str:
    """The local holding the AWSCURRENT version id of the generated secret `generated` (ids, no values)."""
    tf_id = generated.replace("-", "_")
    [(name, value)] = [(n, v) for n, v in stack["locals"].items()
                       if n.startswith(f"airflow_secrets_{tf_id}_current_version")]
    assert value == ("${one([for v in data.aws_secretsmanager_secret_versions.airflow_secrets_"
                     f"{tf_id}_versions_" + value.split(f"{tf_id}_versions_")[1].split(".")[0] +
                     '.versions : v.version_id if contains(v.version_stages, "AWSCURRENT")])}')
    return f"local.{name}"


def test_airflow_logs_in_as_its_own_role_through_pgbouncer(synth):
    secrets = secrets_by_name(synth.apps)
    password = ephemeral_of(synth.apps, "db-password")
    connection = secrets["airflow-metadata"]["data_wo"]["connection"]
    assert connection.startswith(f"postgresql://airflow:${{urlencode({password})}}@airflow-pgbouncer.")
    assert ":6543/airflow-metadata" in connection
    assert secrets["airflow-result-backend"]["data_wo"]["connection"].startswith(
        f"db+postgresql://airflow:${{urlencode({password})}}@")
    config = secrets["airflow-pgbouncer-config"]["data_wo"]
    assert config["users.txt"].startswith(f'"airflow" "${{replace({password},')
    ini = config["pgbouncer.ini"]
    assert "server_tls_sslmode = require" in ini and "stats_users = airflow" in ini
    assert "cross-stack-output-aws_db_instance" in ini  # host = the RDS address from infra
    # The master secret is never read by Terraform: only its ARN goes to the bootstrap Job.
    assert "master_user_secret" not in str(synth.apps.get("ephemeral")) + str(synth.apps.get("data"))


def test_generated_secrets_come_from_secrets_manager_and_follow_new_versions(synth):
    secrets = secrets_by_name(synth.apps)
    sources = {"airflow-fernet-key": "fernet-key", "airflow-api-secret-key": "api-secret-key",
               "airflow-jwt-secret": "jwt-secret", "airflow-redis-password": "redis-password",  # pragma: allowlist secret
               "airflow-broker-url": "redis-password", "airflow-admin-password": "admin-password",  # pragma: allowlist secret
               "airflow-metadata": "db-password", "airflow-result-backend": "db-password",
               "airflow-pgbouncer-config": "db-password", "airflow-pgbouncer-stats": "db-password"}
    assert set(secrets) == set(sources)
    for name, source in sources.items():
        assert ephemeral_of(synth.apps, source) in str(secrets[name]["data_wo"]), name
        # Rewritten only when the source's current version changes: never on a plain re-plan.
        revision = secrets[name]["data_wo_revision"]
        assert revision.startswith("${parseint(substr(sha256(") and current_version(synth.apps, source) in revision

        assert "lifecycle" not in secrets[name], name


def test_a_new_db_password_version_reruns_the_bootstrap_and_restarts_its_readers(synth):
    job = only(synth.apps, "kubernetes_job_v1")
    version = job["spec"]["template"]["metadata"]["annotations"]["airflow-platform/db-password-version"]
    assert version == "${" + current_version(synth.apps, "db-password") + "}"
    _, computed = release_values(synth.apps)
    annotation = {"airflow-platform/db-password-version": version}
    # per component, not airflowPodAnnotations, which would reach the chart's Jobs too (tests/test_rotation_order.py)
    assert "airflowPodAnnotations" not in computed
    for component in ("scheduler", "apiServer", "triggerer", "dagProcessor", "workers", "pgbouncer"):
        assert annotation.items() <= computed[component]["podAnnotations"].items(), component


def test_bootstrap_job_runs_before_the_chart_with_no_secret_in_its_spec(synth):
    job_name, job = next(iter(resources(synth.apps, "kubernetes_job_v1").items()))
    release = chart_release(synth.apps, "airflow")
    assert f"kubernetes_job_v1.{job_name}" in release["depends_on"]
    assert job["wait_for_completion"] is True
    [container] = job["spec"]["template"]["spec"]["container"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["AIRFLOW_DB_ROLE"] == "airflow"
    assert "master_user_secret" in env["MASTER_SECRET_ARN"]
    assert "airflow_secrets_db_password" in env["AIRFLOW_DB_PASSWORD_SECRET_ARN"]
    assert container["image"] == synth.settings.airflow_image.reference == f"apache/airflow:{synth.settings.airflow_image_tag}"
    assert container["security_context"]["read_only_root_filesystem"] is True
    account = only(synth.apps, "kubernetes_service_account_v1")
    assert account["metadata"]["name"] == job["spec"]["template"]["spec"]["service_account_name"] or \
        "kubernetes_service_account_v1" in job["spec"]["template"]["spec"]["service_account_name"]
    assert "cross-stack-output-aws_iam_roleairflow_secrets_bootstrap_role" in \
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    script = only(synth.apps, "kubernetes_config_map_v1")["data"]["bootstrap.py"]
    from airflow_platform.constructs.db_role_bootstrap import SCRIPT
    assert script == SCRIPT.read_text()


def test_no_admin_admin_user(synth, chart):
    values = merged(synth.apps, chart)
    job = values["createUserJob"]
    assert job["defaultUser"]["password"] != "admin"  # pragma: allowlist secret
    command = " ".join(job["args"])
    assert '--password "$AIRFLOW_ADMIN_PASSWORD"' in command and "defaultUser.password" not in command
    [env] = job["env"]
    assert env["valueFrom"]["secretKeyRef"]["key"] == "password"


def test_default_storage_class(synth):
    from cdktf import Testing
    from cdktf_cdktf_provider_kubernetes.storage_class_v1 import StorageClassV1

    sc = only(synth.apps, "kubernetes_storage_class_v1")
    assert Testing.to_have_resource_with_properties(synth.testing_synth("apps"), StorageClassV1.TF_RESOURCE_TYPE, {
        "metadata": {"annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "storage_provisioner": "ebs.csi.aws.com", "volume_binding_mode": "WaitForFirstConsumer",
        "allow_volume_expansion": True})
    # exactly these parameters (the matcher would accept more): by hand
    assert sc["parameters"] == {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"}
    release = chart_release(synth.apps, "airflow")
    storage_class = next(iter(resources(synth.apps, "kubernetes_storage_class_v1")))
    assert f"kubernetes_storage_class_v1.{storage_class}" in release["depends_on"]


def test_each_service_account_carries_its_components_role_or_none(synth, chart):
    """Task code (workers, triggerer) runs as the tasks role, the API server as its log reader;
    the scheduler and dag-processor call no AWS API and get no role."""
    values = merged(synth.apps, chart)
    expected = {"worker": "task_logs_airflow_role", "triggerer": "task_logs_airflow_role",
                "api-server": "airflow_roles_api_server", "scheduler": None, "dag-processor": None}
    assert set(expected) == set(AIRFLOW_COMPONENTS)
    for component, role_path in expected.items():
        account = values[CHART_KEYS[component]]["serviceAccount"]
        assert account["name"] == service_account_name(component)
        role = (account.get("annotations") or {}).get("eks.amazonaws.com/role-arn")
        if role_path is None:
            assert role is None, component
        else:
            assert TOKEN.match(role) and f"cross-stack-output-aws_iam_role{role_path}" in role, component


def test_secrets_manager_backend_only_where_task_and_trigger_code_looks_up(synth, chart):
    """`[workers] secrets_backend` on the workers and the triggerer (the task runner's and trigger
    runner's search path), never `[secrets] backend` (the API server's, scheduler's and
    dag-processor manager's): airflow_platform/secrets_backend.py cites the source."""
    import json

    values = merged(synth.apps, chart)
    prefix = synth.settings.prefix
    assert "backend" not in values["config"].get("secrets", {})
    assert not any(e["name"].startswith("AIRFLOW__SECRETS__") for e in values["env"])
    for component in AIRFLOW_COMPONENTS:
        env = {e["name"]: e["value"] for e in values[CHART_KEYS[component]].get("env", [])}
        if component in ("worker", "triggerer"):
            assert env["AIRFLOW__WORKERS__SECRETS_BACKEND"] == \
                "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
            assert json.loads(env["AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS"]) == {
                "connections_prefix": f"{prefix}/airflow/connections", "variables_prefix": f"{prefix}/airflow/variables",
                "config_prefix": None, "region_name": synth.settings.region}
        else:
            assert not any("SECRETS" in name for name in env), component


def test_task_logs_go_to_the_infra_bucket(synth, chart):
    logging = merged(synth.apps, chart)["config"]["logging"]
    assert logging["remote_logging"] == "True" and logging["remote_log_conn_id"] == "aws_default"
    assert re.fullmatch(r"s3://\$\{[^}]*cross-stack-output-aws_s3_buckettask_logs_bucket[^}]*\}/task-logs",
                        logging["remote_base_log_folder"])


def test_ui_behind_an_internal_or_an_internet_facing_load_balancer(synth, synth_prod, chart):
    """dev (the default): internal, plain HTTP inside the VPC. prod here: internet-facing, TLS on 443
    and no port 80 at all. Both annotations agree (the in-tree controller reads `internal`, the
    AWS Load Balancer Controller `scheme`: constructs/ui_load_balancer.py)."""
    service = merged(synth.apps, chart)["apiServer"]["service"]
    assert service["type"] == "LoadBalancer"
    annotations = service["annotations"]
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    assert annotations[f"{prefix}type"] == "nlb"
    assert (annotations[f"{prefix}scheme"], annotations[f"{prefix}internal"]) == ("internal", "true")
    assert annotations[f"{prefix}healthcheck-path"] == "/api/v2/monitor/health"
    assert service["loadBalancerSourceRanges"] == [str(net) for net in synth.settings.load_balancer_source_cidrs]
    assert service["ports"] == [{"name": "http", "port": 80, "targetPort": "api-server"}]
    assert synth.apps["output"]["airflow_url"]["value"].startswith("http://${data.kubernetes_service_v1.")

    tls = merged(synth_prod.apps, chart)["apiServer"]["service"]
    assert (tls["annotations"][f"{prefix}scheme"], tls["annotations"][f"{prefix}internal"]) == (
        "internet-facing", "false")
    assert tls["annotations"][f"{prefix}ssl-cert"] == synth_prod.settings.acm_certificate_arn
    assert tls["annotations"][f"{prefix}ssl-ports"] == "https"
    assert tls["ports"] == [{"name": "https", "port": 443, "targetPort": "api-server"}]  # port 80 is closed
    assert synth_prod.apps["output"]["airflow_url"]["value"].startswith("https://")


def test_git_sync(synth, synth_prod, chart):
    sync = merged(synth.apps, chart)["dags"]["gitSync"]
    s = synth.settings
    assert (sync["enabled"], sync["repo"], sync["branch"], sync["subPath"]) == (True, s.git_sync_repo,
                                                                                 s.git_sync_branch, "dags")
    assert not sync.get("sshKeySecret")
    private = merged(synth_prod.apps, chart)["dags"]["gitSync"]
    assert private["sshKeySecret"] == "airflow-git-ssh"  # pragma: allowlist secret
    assert private["knownHosts"].startswith("github.com ssh-ed25519 ")


def test_prod_runs_two_schedulers_with_disruption_budgets(synth, synth_prod, chart):
    dev, prod = merged(synth.apps, chart), merged(synth_prod.apps, chart)
    assert dev["scheduler"]["replicas"] == 1 and prod["scheduler"]["replicas"] == 2
    for key in ("scheduler", "apiServer", "pgbouncer", "triggerer", "dagProcessor"):
        assert prod[key]["podDisruptionBudget"]["enabled"] is True, key
        assert dev[key]["podDisruptionBudget"]["enabled"] is False, key
    assert prod["workers"]["celery"]["podDisruptionBudget"]["enabled"] is True
    assert prod["workers"]["celery"]["keda"]["enabled"] is True and dev["workers"]["celery"]["keda"]["enabled"] is False


def test_no_pgbouncer_value_the_chart_ignores():
    """With configSecretName the chart renders no pgbouncer.ini of its own, so these would be
    dead settings that look like they configure PgBouncer."""
    pgbouncer = yaml.safe_load(VALUES_FILE.read_text())["pgbouncer"]
    assert not {"maxClientConn", "metadataPoolSize", "resultBackendPoolSize", "sslmode"} & set(pgbouncer)
