"""Cluster access is explicit: every identity a runbook runs as has an EKS access entry, and the
plan role may read (never write) what the apps stack manages, Secrets included.

Why the plan role needs Secrets: AmazonEKSViewPolicy excludes them (EKS user guide, "Review
access policy permissions": view "does not allow viewing Secrets"), yet the kubernetes
provider refreshes `kubernetes_secret_v1` by reading the Secret, and Helm keeps each release
as a Secret (`sh.helm.release.v1.<name>.v<n>`, storage driver "secret"), which the helm
provider reads to refresh `helm_release`. So the plan role's entry carries a Kubernetes group
that the apps stack binds to a get/list/watch ClusterRole.

The creator's automatic entry: `bootstrap_cluster_creator_admin_permissions` is ForceNew in
aws 5.100.0 (internal/service/eks/cluster.go) and is not returned by DescribeCluster (the
provider keeps the configured value), so changing it on an existing cluster would replace
the cluster. New clusters get `false` (no implicit admin); existing ones keep their value
through `ignore_changes` (tests below), and docs/ci-cd.md says how to adopt an existing
creator entry (`terraform import`).
"""

from __future__ import annotations

import json

import pytest

from tf_json import resources

ADMIN_POLICY = ":cluster-access-policy/AmazonEKSClusterAdminPolicy"
READ_VERBS = {"get", "list", "watch"}
# What the kubernetes provider reads to refresh each type the apps stack declares, and what the
# helm provider reads for a release (its Secrets), as (API group, resource).
READS_FOR_REFRESH = {
    "kubernetes_namespace_v1": ("", "namespaces"),
    "kubernetes_secret_v1": ("", "secrets"),
    "kubernetes_config_map_v1": ("", "configmaps"),
    "kubernetes_service_account_v1": ("", "serviceaccounts"),
    "kubernetes_service_v1": ("", "services"),
    "kubernetes_job_v1": ("batch", "jobs"),
    "kubernetes_storage_class_v1": ("storage.k8s.io", "storageclasses"),
    "kubernetes_cluster_role_v1": ("rbac.authorization.k8s.io", "clusterroles"),
    "kubernetes_cluster_role_binding_v1": ("rbac.authorization.k8s.io", "clusterrolebindings"),
    "helm_release": ("", "secrets"),
}


def entries_by_role_name(stack: dict) -> dict[str, dict]:
    """Access entries by the last part of their principal ARN (`role/<name>` -> name)."""
    return {e["principal_arn"].rsplit("/", 1)[-1]: e for e in resources(stack, "aws_eks_access_entry").values()}


def policies_of(stack: dict, entry: dict) -> list[dict]:
    """The policy associations that refer to `entry`."""
    name = next(n for n, e in resources(stack, "aws_eks_access_entry").items() if e is entry)
    return [a for a in resources(stack, "aws_eks_access_policy_association").values()
            if a["principal_arn"] == "${aws_eks_access_entry." + name + ".principal_arn}"]


def is_cluster_admin(stack: dict, entry: dict) -> bool:
    return any(a["policy_arn"].endswith(ADMIN_POLICY) and a["access_scope"] == {"type": "cluster"}
               for a in policies_of(stack, entry))


def ci_role_names_of(synthesized) -> dict[str, str]:
    """plan/deploy -> the role name the bootstrap stack gives it (the identity CI runs as)."""
    roles = resources(synthesized.bootstrap, "aws_iam_role")
    return {"plan": roles["plan_role"]["name"], "deploy": roles["deploy_role"]["name"]}


def test_every_runbook_identity_has_an_entry(synth_prod):
    """prod's synthesis has a state bucket (CI exists) and a cluster admin (an operator)."""
    from airflow_platform.cluster_access import RUNBOOKS

    infra = synth_prod.infra
    entries = entries_by_role_name(infra)
    names = ci_role_names_of(synth_prod)
    operators = list(synth_prod.settings.cluster_admin_principal_arns)
    assert operators, "the prod fixture names a cluster admin"
    for runbook, identities in RUNBOOKS.items():
        for identity in identities:
            if identity == "operator":
                for arn in operators:
                    entry = entries.get(arn.rsplit("/", 1)[-1])
                    assert entry and entry["principal_arn"] == arn, f"{runbook}: no entry for {arn}"
                    assert is_cluster_admin(infra, entry), f"{runbook}: {arn} is not a cluster admin"
                continue
            entry = entries.get(names[identity])
            assert entry, f"{runbook}: the {identity} role {names[identity]} has no access entry"
            assert entry["principal_arn"].startswith("arn:") and entry["principal_arn"].endswith(
                f":role/{names[identity]}")
    assert is_cluster_admin(infra, entries[names["deploy"]]), "deploy, destroy and rotation install and remove"
    plan = entries[names["plan"]]
    assert plan.get("kubernetes_groups"), "the plan role reads through a Kubernetes group bound by RBAC"
    assert not policies_of(infra, plan), "no EKS access policy for the plan role: RBAC decides what it reads"


def test_without_ci_no_ci_role_is_named(synth):
    """dev's synthesis keeps local state (no bootstrap stack, so no CI roles): EKS refuses an
    entry for a principal that does not exist, so none is named; the operator who deploys
    lists themself in cluster_admin_principal_arns (README, Deploying)."""
    assert not synth.settings.state_bucket
    names = ci_role_names_of(synth).values()
    assert not set(entries_by_role_name(synth.infra)) & set(names)
    # The one binding is the AMP collector's, to its own Kubernetes user.
    subjects = [s for r in resources(synth.apps, "kubernetes_cluster_role_binding_v1").values() for s in r["subject"]]
    assert subjects == [{"api_group": "rbac.authorization.k8s.io", "kind": "User", "name": "aps-collector-user"}]


@pytest.mark.parametrize("profile", ["synth", "synth_prod"])
def test_no_implicit_creator_admin_and_no_replacement_of_an_existing_cluster(request, profile):
    """New clusters: no implicit admin for whoever ran the first deploy. Existing clusters
    (created with the default `true`): the value stays out of the diff, or the cluster is replaced."""
    cluster = next(iter(resources(request.getfixturevalue(profile).infra, "aws_eks_cluster").values()))
    assert cluster["access_config"] == {"authentication_mode": "API",
                                        "bootstrap_cluster_creator_admin_permissions": False}
    assert "access_config[0].bootstrap_cluster_creator_admin_permissions" in cluster["lifecycle"]["ignore_changes"]


def test_the_plan_role_reads_what_the_apps_stack_manages_and_writes_nothing(synth_prod):
    infra, apps = synth_prod.infra, synth_prod.apps
    group = entries_by_role_name(infra)[ci_role_names_of(synth_prod)["plan"]]["kubernetes_groups"]
    assert len(group) == 1
    bindings = [b for b in resources(apps, "kubernetes_cluster_role_binding_v1").values()
                if {"kind": "Group", "name": group[0], "api_group": "rbac.authorization.k8s.io"} in b["subject"]]
    assert len(bindings) == 1, f"one ClusterRoleBinding for group {group[0]}"
    role_ref = bindings[0]["role_ref"]
    roles = resources(apps, "kubernetes_cluster_role_v1")
    [role] = [r for n, r in roles.items()
              if role_ref["name"] in (r["metadata"]["name"], "${kubernetes_cluster_role_v1." + n + ".metadata[0].name}")]
    assert role_ref["kind"] == "ClusterRole"
    granted = set()
    for rule in role["rule"]:
        assert set(rule["verbs"]) <= READ_VERBS, f"the plan role may only read: {rule}"
        granted |= {(g, r) for g in rule["api_groups"] for r in rule["resources"]}
    declared = set(apps.get("resource", {})) | set(apps.get("data", {}))
    for tf_type in sorted(t for t in declared if t.startswith(("kubernetes_", "helm_"))):
        assert tf_type in READS_FOR_REFRESH, f"{tf_type}: say what refreshing it reads"
        assert READS_FOR_REFRESH[tf_type] in granted, f"{tf_type}: the plan role cannot read it to refresh"


# What creating, reading and deleting the entries calls, and on which resource (Service
# Authorization Reference for Amazon EKS: CreateAccessEntry on `cluster`, the rest on
# `access-entry`, whose ARN is access-entry/<cluster>/role/<account>/<role>/<uuid>).
ENTRY_CALLS = {"deploy": ("eks:CreateAccessEntry", "eks:DescribeAccessEntry", "eks:UpdateAccessEntry",
                          "eks:DeleteAccessEntry", "eks:AssociateAccessPolicy", "eks:DisassociateAccessPolicy",
                          "eks:ListAssociatedAccessPolicies"),
               "plan": ("eks:DescribeAccessEntry", "eks:ListAssociatedAccessPolicies")}


def test_the_ci_roles_may_manage_and_read_the_entries(synth_prod):
    """Evaluated as AWS does (tools/iam_eval.py), not with moto's evaluator (STANDINS.md)."""
    from airflow_platform.ci_policies import deploy_policy, plan_policy
    from defaults import example_ci_target
    from tools.iam_eval import Request, decide

    s = synth_prod.settings
    t = example_ci_target(s)
    cluster = t.arn("eks", f"cluster/{s.cluster_name}")
    entry = t.arn("eks", f"access-entry/{s.cluster_name}/role/{t.account_id}/{t.deploy_role_name}/0f00")
    for role, policy in (("deploy", deploy_policy(t)), ("plan", plan_policy(t))):
        for action in ENTRY_CALLS[role]:
            resource = cluster if action == "eks:CreateAccessEntry" else entry
            assert decide(Request(action, resource, {}), [policy]).allowed, f"{role} may not {action} on {resource}"


def test_a_deploy_by_hand_that_no_one_could_reach_is_warned_about():
    """Local state and no admin: no one would have an entry (the creator gets none implicitly)."""
    from airflow_platform.preflight import deploy_warnings
    from defaults import settings_without_env

    def access_warnings(**overrides) -> list[str]:
        return [w for w in deploy_warnings(settings_without_env(**overrides)) if "access entry" in w]

    assert access_warnings() and "cluster_admin_principal_arns" in access_warnings()[0]
    assert not access_warnings(cluster_admin_principal_arns="arn:aws:iam::123456789012:role/ops")
    assert not access_warnings(state_bucket="example-terraform-state")


# --- the real provider: an existing cluster is not replaced -----------------------------------

EXISTING_CLUSTER = {  # state of a cluster created before the entries were explicit (flag true)
    "id": "c", "name": "c", "arn": "arn:aws:eks:us-east-1:123456789012:cluster/c", "version": "1.35",
    "role_arn": "arn:aws:iam::123456789012:role/r", "bootstrap_self_managed_addons": True,
    "access_config": [{"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True}],
    "vpc_config": [{"subnet_ids": ["subnet-1"], "endpoint_private_access": False, "endpoint_public_access": True,
                    "public_access_cidrs": ["0.0.0.0/0"], "security_group_ids": [], "cluster_security_group_id": "",
                    "vpc_id": "vpc-1"}],
    "tags_all": {}, "status": "ACTIVE", "platform_version": "eks.1", "created_at": "2026-01-01T00:00:00Z",
    "certificate_authority": [], "identity": [], "endpoint": "https://c", "enabled_cluster_log_types": [],
    "encryption_config": [], "upgrade_policy": [], "kubernetes_network_config": [], "outpost_config": [],
    "remote_network_config": [], "compute_config": [], "storage_config": [], "zonal_shift_config": [],
}


def plan_against_existing_cluster(folder, initialized, cluster_config: dict) -> str:
    """`terraform plan -refresh=false` of one aws_eks_cluster over a state holding EXISTING_CLUSTER:
    the provider's own diff (ForceNew, ignore_changes), no AWS call (no refresh, no data source)."""
    import os

    from tools.terraform_cli import terraform

    folder.mkdir()
    (folder / ".terraform").mkdir()  # the installed provider, without that folder's backend
    os.symlink(initialized / ".terraform" / "providers", folder / ".terraform" / "providers")
    (folder / ".terraform.lock.hcl").write_text((initialized / ".terraform.lock.hcl").read_text())
    config = {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
        "provider": {"aws": [{"region": "us-east-1", "access_key": "x", "secret_key": "y",  # pragma: allowlist secret
                              "skip_credentials_validation": True, "skip_requesting_account_id": True,
                              "skip_metadata_api_check": "true", "skip_region_validation": True}]},
        "resource": {"aws_eks_cluster": {"c": {
            "name": "c", "role_arn": "arn:aws:iam::123456789012:role/r", "version": "1.35",
            "vpc_config": {"subnet_ids": ["subnet-1"]}, **cluster_config}}},
    }
    (folder / "main.tf.json").write_text(json.dumps(config))
    (folder / "terraform.tfstate").write_text(json.dumps({
        "version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "00000000-0000-4000-8000-000000000001",
        "outputs": {}, "resources": [{
            "mode": "managed", "type": "aws_eks_cluster", "name": "c",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [{"schema_version": 1, "attributes": EXISTING_CLUSTER}]}]}))
    return terraform(folder, "plan", "-refresh=false", "-input=false", "-no-color", timeout=300).stdout


def test_the_creator_flag_is_force_new_and_an_existing_cluster_keeps_it(synth, infra_terraform_dir, tmp_path):
    """aws 5.100.0, as Terraform plans it: the synthesized access_config and lifecycle leave a
    cluster created with the flag true unchanged; without the ignore_changes it is replaced."""
    (cluster,) = resources(synth.infra, "aws_eks_cluster").values()
    ours = {key: cluster[key] for key in ("access_config", "lifecycle") if key in cluster}
    kept = plan_against_existing_cluster(tmp_path / "ours", infra_terraform_dir, ours)
    assert "No changes." in kept, kept
    without_guard = plan_against_existing_cluster(tmp_path / "unguarded", infra_terraform_dir,
                                                  {"access_config": cluster["access_config"]})
    assert "bootstrap_cluster_creator_admin_permissions = true -> false # forces replacement" in without_guard
    assert "must be replaced" in without_guard
