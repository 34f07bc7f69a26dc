"""Component logs (airflow_platform/constructs/container_insights.py): every component's
container logs are selected by the Fluent Bit files the add-on is given, each goes to a log
group Terraform made with the KMS key and the retention setting, and the add-on's role can
write to those groups only.

What the stand-ins cannot prove, and what decides instead:
- No Fluent Bit runs here. Its `tail` input reads the files `Path` names, comma-separated
  wildcards, minus those an `Exclude_Path` shell pattern matches (Fluent Bit manual, "Tail":
  Path, Exclude_Path); fnmatch is that shell matching (the names here hold no `/` after the
  directory, where glob and fnmatch differ). The tag is the input's `Tag` with `*` replaced by
  the file's path, dots for slashes, and an output takes the records its `Match` matches.
- No kubelet runs here. It links each container's log at
  `/var/log/containers/<pod>_<namespace>_<container>-<container id>.log` (Kubernetes
  documentation, "Logging Architecture": the kubelet's symlinks); a pod's name begins with its
  controller's name (Deployment, StatefulSet, DaemonSet, Job), so the rendered workloads' names,
  namespaces and containers (init containers too) are the files a node will have.
- The Fluent Bit files are the add-on's `configuration_values`; that the add-on mounts its
  `containerLogs.fluentBit.config.extraFiles` as @INCLUDEd files is the chart's template
  (aws-observability/helm-charts, amazon-cloudwatch-observability 6.2.0,
  templates/linux/fluent-bit-configmap.yaml), not something run here.
"""

from __future__ import annotations

import fnmatch
import json
import re

import pytest

from airflow_platform.constructs.container_insights import ADDON_NAME, LOG_GROUP_KINDS, SERVICE_ACCOUNT
from tf_json import resources
from tools.iam_eval import Request, decide
from tools.iam_resolve import EXAMPLE_ACCOUNT, StackResolver, stack_roles

CONTAINER_ID = "0" * 64


def addon(infra: dict) -> dict:
    [found] = [a for a in resources(infra, "aws_eks_addon").values() if a["addon_name"] == ADDON_NAME]
    return found


def fluent_bit_files(infra: dict) -> dict[str, str]:
    # Terraform writes `$${` as `${`: what the add-on receives.
    values = json.loads(addon(infra)["configuration_values"].replace("$${", "${"))
    return values["containerLogs"]["fluentBit"]["config"]["extraFiles"]


def sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """Fluent Bit's classic format: `[SECTION]`, then `Key Value` lines."""
    found: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            found.append((header[1].upper(), {}))
        else:
            key, _, value = line.partition(" ")
            found[-1][1][key.lower()] = value.strip()
    return found


def patterns(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def log_group_of(path: str, files: dict[str, str], cluster_name: str) -> list[str]:
    """The log groups Fluent Bit sends the file at `path` to, through every file's inputs and outputs."""
    every = [s for text in files.values() for s in sections(text)]
    tags = [inp["tag"].replace("*", path.lstrip("/").replace("/", "."))
            for kind, inp in every if kind == "INPUT" and inp.get("name") == "tail"
            and any(fnmatch.fnmatchcase(path, p) for p in patterns(inp["path"]))
            and not any(fnmatch.fnmatchcase(path, p) for p in patterns(inp.get("exclude_path", "")))]
    return [out["log_group_name"].replace("${CLUSTER_NAME}", cluster_name)
            for tag in tags for kind, out in every
            if kind == "OUTPUT" and fnmatch.fnmatchcase(tag, out["match"])]


def containers(spec: dict) -> list[str]:
    return [c["name"] for c in [*spec.get("initContainers", []), *spec.get("containers", [])]]


def component_log_files(synthesized, rendered, rendered_addons) -> dict[str, list[str]]:
    """Every container's log file, by `<namespace>/<workload>`: the Airflow release, the
    controllers' releases, and the role-bootstrap Job of the apps stack."""
    found: dict[str, list[str]] = {}
    for release in [rendered, *rendered_addons.values()]:
        for workload in release.workloads():
            namespace = workload["metadata"].get("namespace") or release.namespace
            name = workload["metadata"]["name"]
            spec = (workload["spec"]["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else workload["spec"])
            found[f"{namespace}/{name}"] = [
                f"/var/log/containers/{name}-x7k2p_{namespace}_{c}-{CONTAINER_ID}.log"
                for c in containers(spec["template"]["spec"])]
    for job in resources(synthesized.apps, "kubernetes_job_v1").values():
        meta, pod = job["metadata"], job["spec"]["template"]["spec"]
        namespace, name = meta["namespace"], meta["name"]
        found[f"{namespace}/{name}"] = [f"/var/log/containers/{name}-x7k2p_{namespace}_{c['name']}-{CONTAINER_ID}.log"
                                        for c in [*pod.get("init_container", []), *pod["container"]]]
    return found


def test_every_component_s_logs_reach_the_application_group(synth_prod, rendered_prod, rendered_addons_prod):
    """prod: it has every component (KEDA, two schedulers, PgBouncer, the jobs)."""
    cluster = synth_prod.settings.cluster_name
    files = fluent_bit_files(synth_prod.infra)
    logs = component_log_files(synth_prod, rendered_prod, rendered_addons_prod)
    # The components the issue names are among them, so the check below cannot pass on nothing.
    names = " ".join(logs)
    for component in ("scheduler", "api-server", "dag-processor", "triggerer", "worker", "pgbouncer", "redis",
                      "statsd", "run-airflow-migrations", "create-user", "cluster-autoscaler", "keda-operator",
                      "db-role"):
        assert component in names, f"no rendered workload named like {component}: {sorted(logs)}"
    unshipped = {f"{workload}: {path}": groups for workload, paths in logs.items() for path in paths
                 if (groups := log_group_of(path, files, cluster)) != [f"/aws/containerinsights/{cluster}/application"]}
    assert not unshipped, f"container logs not sent once to the application group: {unshipped}"


def test_no_output_creates_a_group_and_each_names_one_terraform_makes(synth):
    made = {g["name"]: g for g in resources(synth.infra, "aws_cloudwatch_log_group").values()}
    outputs = [out for text in fluent_bit_files(synth.infra).values() for kind, out in sections(text) if kind == "OUTPUT"]
    assert outputs
    for out in outputs:
        assert out["auto_create_group"] == "false", out  # a group it made would have no key and no retention
        assert out["log_group_name"].replace("${CLUSTER_NAME}", synth.settings.cluster_name) in made


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_the_groups_are_encrypted_with_the_key_and_keep_the_retention(profile, synth, synth_prod):
    synthesized = synth if profile == "dev" else synth_prod
    s = synthesized.settings
    groups = {g["name"]: g for g in resources(synthesized.infra, "aws_cloudwatch_log_group").values()
              if g["name"].startswith(f"/aws/containerinsights/{s.cluster_name}/")}
    assert sorted(groups) == sorted(f"/aws/containerinsights/{s.cluster_name}/{k}" for k in LOG_GROUP_KINDS)
    keys = {g["kms_key_id"] for g in groups.values()}
    assert len(keys) == 1 and all(g["retention_in_days"] == s.component_log_retention_days for g in groups.values())
    [key_name] = re.findall(r"\$\{aws_kms_key\.(\w+)\.arn\}", keys.pop())
    policy = json.loads(StackResolver(synthesized.infra, EXAMPLE_ACCOUNT).resolve(
        resources(synthesized.infra, "aws_kms_key")[key_name]["policy"]))
    [logs_use] = [st for st in policy["Statement"] if st["Principal"].get("Service") == f"logs.{s.region}.amazonaws.com"]
    allowed = logs_use["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    # CloudWatch Logs may use the key for these groups and no other.
    assert sorted(allowed) == sorted(f"arn:aws:logs:{s.region}:{EXAMPLE_ACCOUNT}:log-group:{n}" for n in groups)
    assert resources(synthesized.infra, "aws_kms_key")[key_name]["enable_key_rotation"] is True


def test_the_add_on_role_writes_to_these_groups_only(synth):
    s = synth.settings
    resolver = StackResolver(synth.infra, EXAMPLE_ACCOUNT)
    [role] = [r for r in stack_roles(resolver) if r.name == f"{s.cluster_name}-cloudwatch-agent"]
    role_address = next(n for n, r in resources(synth.infra, "aws_iam_role").items() if r["name"] == role.name)
    assert addon(synth.infra)["service_account_role_arn"] == f"${{aws_iam_role.{role_address}.arn}}"
    trusts = json.dumps(synth.infra["data"]["aws_iam_policy_document"])
    assert f"system:serviceaccount:{SERVICE_ACCOUNT}" in trusts  # the add-on's pods, and only they, assume it

    def allowed(action: str, group: str) -> bool:
        arn = f"arn:aws:logs:{s.region}:{EXAMPLE_ACCOUNT}:log-group:{group}:log-stream:node-1"
        return decide(Request(action, arn), role.identity).allowed

    for kind in LOG_GROUP_KINDS:
        group = f"/aws/containerinsights/{s.cluster_name}/{kind}"
        assert allowed("logs:PutLogEvents", group) and allowed("logs:CreateLogStream", group), group
    for elsewhere in (f"/aws/eks/{s.cluster_name}/cluster", f"/aws/containerinsights/{s.cluster_name}-other/application",
                      "/vpc-flow-logs/anything"):
        assert not allowed("logs:PutLogEvents", elsewhere), elsewhere
    group_arn = f"arn:aws:logs:{s.region}:{EXAMPLE_ACCOUNT}:log-group:/aws/containerinsights/{s.cluster_name}/new"
    for action in ("logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteLogGroup", "logs:AssociateKmsKey"):
        assert not decide(Request(action, group_arn), role.identity).allowed, action


def test_the_capacity_check_counts_the_add_on_s_pods(synth):
    """The add-on's pods take room on every node (DaemonSets) and once (the operator): the
    capacity check must count them whenever the stack installs the add-on. Their requests are
    the chart's at the pinned version (capacity.py cites them); no chart renders here."""
    from airflow_platform.capacity import CLUSTER_ADDONS, NODE_DAEMONS

    addon(synth.infra)  # installed
    daemons = {p.name: p for p in NODE_DAEMONS}
    assert daemons["fluent-bit"].daemonset and daemons["fluent-bit"].requests.cpu_m >= 50
    assert daemons["cloudwatch-agent"].daemonset and daemons["cloudwatch-agent"].requests.cpu_m >= 250
    assert "amazon-cloudwatch-observability-controller-manager" in {p.name for p in CLUSTER_ADDONS}
