"""Nodes follow the pods, workers follow the queue: the Cluster Autoscaler and KEDA releases,
rendered with the real charts and the exact values the apps stack passes, every object valid
for Kubernetes (CRD objects for their CRD), the IAM side matching what the charts create."""

from __future__ import annotations

import json

import jsonschema
import kubernetes_validate
import pytest

from airflow_platform.autoscaling import (
    CLUSTER_AUTOSCALER_NAMESPACE, CLUSTER_AUTOSCALER_SERVICE_ACCOUNT, DISCOVERY_TAG, KEDA_NAMESPACE,
)
from airflow_platform.constructs.airflow_release import WORKER_TERMINATION_GRACE_SECONDS
from defaults import checked_settings
from airflow_platform.settings import SettingsError, load_settings
from airflow_platform.versions import CLUSTER_AUTOSCALER_TAGS
from tf_json import chart_release, resources
from tools.chart_render import FAKE_ACCOUNT

# kubernetes-validate ships schemas up to 1.37; 1.35 is the cluster version this platform targets.
TARGET_KUBERNETES = "1.35"
PROFILES = {"dev": ("synth", "rendered", "rendered_addons"),
            "prod": ("synth_prod", "rendered_prod", "rendered_addons_prod")}


def settings_without_env(**overrides):
    """The committed defaults with `overrides`, ignoring the caller's AIRFLOW_PLATFORM_* variables,
    through the whole pipeline main.py runs (the capacity check included)."""
    return checked_settings(**overrides)


def renders(request, profile: str) -> dict:
    synth_name, airflow_name, addons_name = PROFILES[profile]
    return {"airflow": request.getfixturevalue(airflow_name), **request.getfixturevalue(addons_name)}


def schema_versions(settings) -> list[str]:
    return sorted({f"{settings.eks_version}.0", f"{TARGET_KUBERNETES}.0"})


def crd_schemas(keda) -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the openAPIV3Schema the KEDA chart's CRDs declare."""
    out = {}
    for crd in keda.of_kind("CustomResourceDefinition"):
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            out[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return out


# --- what is installed, in which order ----------------------------------------------------


def test_three_pinned_releases_keda_before_airflow(synth, synth_prod):
    for synthesized, charts in ((synth, {"airflow", "cluster-autoscaler"}),
                                (synth_prod, {"airflow", "cluster-autoscaler", "keda"})):
        releases = resources(synthesized.apps, "helm_release")
        assert {r["chart"] for r in releases.values()} == charts
        names = {r["chart"]: name for name, r in releases.items()}
        airflow = chart_release(synthesized.apps, "airflow")
        for chart in charts - {"airflow"}:
            assert f"helm_release.{names[chart]}" in airflow["depends_on"], chart
    ca, keda = chart_release(synth_prod.apps, "cluster-autoscaler"), chart_release(synth_prod.apps, "keda")
    assert (ca["repository"], ca["version"], ca["namespace"]) == ("https://kubernetes.github.io/autoscaler",
                                                                  "9.59.0", "kube-system")
    assert (keda["repository"], keda["version"], keda["namespace"]) == ("https://kedacore.github.io/charts",
                                                                        "2.20.2", KEDA_NAMESPACE)
    assert keda["create_namespace"] is True and keda["wait"] is True and ca["wait"] is True


def test_every_rendered_object_is_valid_kubernetes(request):
    """Every object of the three charts against the Kubernetes schemas; objects of a CRD
    (KEDA's ScaledObject) against the CRD's own OpenAPI schema from the KEDA chart."""
    checked = {}
    for profile in PROFILES:
        settings = request.getfixturevalue(PROFILES[profile][0]).settings
        charts = renders(request, profile)
        crds = crd_schemas(request.getfixturevalue("rendered_addons_prod")["keda"])
        for chart, rendered in charts.items():
            for manifest in rendered.manifests:
                key = (manifest["apiVersion"], manifest["kind"])
                if key in crds:
                    jsonschema.validate(manifest, crds[key])
                    checked[key] = "crd"
                    continue
                for version in schema_versions(settings):
                    kubernetes_validate.validate(manifest, version, strict=True)
                checked[key] = "kubernetes"
    assert checked[("keda.sh/v1alpha1", "ScaledObject")] == "crd"
    assert checked[("apiextensions.k8s.io/v1", "CustomResourceDefinition")] == "kubernetes"
    assert checked[("apps/v1", "Deployment")] == "kubernetes"


def test_the_crd_check_can_fail(rendered_prod, rendered_addons_prod):
    crds = crd_schemas(rendered_addons_prod["keda"])
    [scaled] = rendered_prod.of_kind("ScaledObject")
    broken = json.loads(json.dumps(scaled))
    broken["spec"]["minReplicaCount"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, crds[("keda.sh/v1alpha1", "ScaledObject")])


# --- nodes follow the pods ------------------------------------------------------------------


def cluster_autoscaler_args(addons) -> list[str]:
    deployment = addons["cluster-autoscaler"].get("Deployment", CLUSTER_AUTOSCALER_SERVICE_ACCOUNT)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container["command"] + container.get("args", []), container


@pytest.mark.parametrize("profile", PROFILES)
def test_the_autoscaler_discovers_this_clusters_group_by_tags(request, profile):
    settings = request.getfixturevalue(PROFILES[profile][0]).settings
    args, container = cluster_autoscaler_args(request.getfixturevalue(PROFILES[profile][2]))
    tags = f"{DISCOVERY_TAG},k8s.io/cluster-autoscaler/{settings.cluster_name}"
    assert f"--node-group-auto-discovery=asg:tag={tags}" in args
    assert "--cloud-provider=aws" in args
    assert container["image"] == f"registry.k8s.io/autoscaling/cluster-autoscaler:v{settings.eks_version}.0"
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env["AWS_REGION"] == settings.region


def test_the_image_follows_the_cluster_version_and_unknown_versions_are_refused():
    assert settings_without_env(eks_version="1.35").eks_version == "1.35"
    assert CLUSTER_AUTOSCALER_TAGS["1.35"] == "v1.35.0"
    with pytest.raises(SettingsError) as err:
        settings_without_env(eks_version="1.29")
    assert any(p.startswith("eks_version: '1.29' is not allowed; use a version with a known Cluster Autoscaler")
               for p in err.value.problems)


def trust(stack: dict, role_name_part: str) -> dict:
    documents = {name: doc for name, doc in stack["data"]["aws_iam_policy_document"].items()
                 if name.startswith(role_name_part)}
    [document] = documents.values()
    [statement] = document["statement"]
    return {c["variable"].rsplit(":", 1)[1]: c for c in statement["condition"]} | {"_": statement}


@pytest.mark.parametrize("profile", PROFILES)
def test_irsa_trust_matches_the_service_accounts_the_charts_create(request, profile):
    synthesized = request.getfixturevalue(PROFILES[profile][0])
    charts = renders(request, profile)
    # The Cluster Autoscaler: its one rendered service account, and only that, may assume the role.
    [account] = charts["cluster-autoscaler"].of_kind("ServiceAccount")
    ca_trust = trust(synthesized.infra, "cluster_autoscaler_role_trust")
    assert ca_trust["sub"]["test"] == "StringEquals"
    assert ca_trust["sub"]["values"] == [f"system:serviceaccount:{CLUSTER_AUTOSCALER_NAMESPACE}:"
                                          f"{account['metadata']['name']}"]
    assert ca_trust["aud"]["values"] == ["sts.amazonaws.com"]
    assert ca_trust["_"]["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    deployment = charts["cluster-autoscaler"].get("Deployment", CLUSTER_AUTOSCALER_SERVICE_ACCOUNT)
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    [role] = [r for name, r in resources(synthesized.infra, "aws_iam_role").items()
              if name.startswith("cluster_autoscaler_role")]
    # the rendered annotation is the infra role's ARN (the account is the renderer's stand-in)
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == \
        f"arn:aws:iam::{FAKE_ACCOUNT}:role/{role['name']}"
    # Airflow: the rendered service accounts that carry the role are exactly the trusted ones.
    airflow = charts["airflow"]
    annotated = sorted(f"system:serviceaccount:{airflow.namespace}:{sa['metadata']['name']}"
                       for sa in airflow.of_kind("ServiceAccount")
                       if "eks.amazonaws.com/role-arn" in (sa["metadata"].get("annotations") or {}))
    trusted = [v for role in ("task_logs_airflow_role_trust", "airflow_roles_api_server_trust")
               for v in trust(synthesized.infra, role)["sub"]["values"]]
    assert sorted(trusted) == annotated


def autoscaler_policy(infra: dict) -> dict:
    [policy] = [p for name, p in resources(infra, "aws_iam_role_policy").items()
                if name.startswith("cluster_autoscaler_role")]
    return json.loads(policy["policy"])


@pytest.mark.parametrize("profile", PROFILES)
def test_the_autoscaler_may_resize_only_this_clusters_groups(request, profile):
    synthesized = request.getfixturevalue(PROFILES[profile][0])
    statements = autoscaler_policy(synthesized.infra)["Statement"]
    writes = {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = set(statement["Action"])
        assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in actions - writes), actions
        if actions & writes:
            assert actions == writes
            assert statement["Condition"] == {"StringEquals": {
                f"aws:ResourceTag/k8s.io/cluster-autoscaler/{synthesized.settings.cluster_name}": "owned"}}
    assert {a for s in statements for a in s["Action"]} >= writes | {"autoscaling:DescribeAutoScalingGroups"}
    [nodegroups] = [s for s in statements if s["Action"] == ["eks:DescribeNodegroup"]]
    assert nodegroups["Resource"].endswith(f":nodegroup/{synthesized.settings.cluster_name}/*")


def test_the_autoscaler_role_is_the_one_the_apps_stack_annotates(synth):
    outputs = synth.infra["output"]
    assert "cluster_autoscaler_role_arn" in outputs
    assert "aws_iam_role.cluster_autoscaler_role" in outputs["cluster_autoscaler_role_arn"]["value"]


# --- workers follow the queue, and are never drained mid-task -----------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_workers_are_never_evicted_by_the_autoscaler(request, profile):
    airflow = renders(request, profile)["airflow"]
    worker = airflow.get("StatefulSet", "airflow-worker")
    template = worker["spec"]["template"]
    assert template["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert template["spec"]["terminationGracePeriodSeconds"] == WORKER_TERMINATION_GRACE_SECONDS


def test_keda_scales_workers_between_the_settings_through_pgbouncer(synth_prod, rendered_prod, rendered):
    s = synth_prod.settings
    assert s.celery_worker_autoscaling and (s.celery_worker_min_replicas, s.celery_worker_max_replicas) == (2, 10)
    [scaled] = rendered_prod.of_kind("ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "airflow-worker"
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (2, 10)
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "postgresql"
    # Through PgBouncer: the worker's own metadata connection (to PgBouncer), not a direct KEDA one.
    assert trigger["metadata"]["connectionFromEnv"] == "AIRFLOW_CONN_AIRFLOW_DB"
    worker = rendered_prod.get("StatefulSet", "airflow-worker")
    env = {e["name"] for c in worker["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    assert "AIRFLOW_CONN_AIRFLOW_DB" in env and "KEDA_DB_CONN" not in env
    # dev: no KEDA, a fixed worker count
    assert rendered.of_kind("ScaledObject") == []
    assert rendered.get("StatefulSet", "airflow-worker")["spec"]["replicas"] == 1
