"""EKS upgrades reach every part: a new `eks_version` moves the control plane, the managed
add-ons (vpc-cni, kube-proxy, CoreDNS, EBS CSI) and the node group, in an order that works,
without replacing anything. The synthesized JSON and its dependency graph here; the real
`terraform plan` of an upgrade against moto in tests/test_emulator.py
(tools/emulator/eks_upgrade.py), without the add-ons, which moto lacks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from airflow_platform.stacks.infra_moved import logical_id
from airflow_platform.versions import EKS_STANDARD_SUPPORT_ENDS, previous_eks_version
from tf_json import only, ref, resources, without_metadata
from tools.emulator.eks_upgrade import UNKNOWN, EksUpgrade, problems
from tools.tf_graph import dependency_graph, find_path

ADDONS = ("vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver")


def name_of(stack: dict, rtype: str) -> str:
    (name,) = resources(stack, rtype)
    return name


def addon_names(stack: dict) -> dict[str, str]:
    """add-on -> the resource name of its aws_eks_addon."""
    return {body["addon_name"]: name for name, body in resources(stack, "aws_eks_addon").items()}


def differences(a, b, path: str = "") -> list[str]:
    """The paths at which two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in sorted(set(a) | set(b)) for d in differences(a.get(key), b.get(key), f"{path}/{key}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}/{i}")]
    return [] if a == b else [path]


# --- the node group follows the cluster ------------------------------------------------------

def test_the_node_group_runs_the_clusters_kubernetes_version(synth):
    cluster = name_of(synth.infra, "aws_eks_cluster")
    assert only(synth.infra, "aws_eks_cluster")["version"] == synth.settings.eks_version
    assert only(synth.infra, "aws_eks_node_group")["version"] == ref("aws_eks_cluster", cluster, "version")


def test_changing_eks_version_changes_the_cluster_and_the_add_ons_version_lookups_only(synth, synth_previous_eks):
    """The node group refers to the cluster's version; the add-ons' version lookups take the
    version itself; nothing else in the stack follows the setting."""
    cluster = name_of(synth.infra, "aws_eks_cluster")
    assert synth_previous_eks.settings.eks_version != synth.settings.eks_version
    lookups = sorted(f"/data/aws_eks_addon_version/{name}/kubernetes_version"
                     for name in synth.infra["data"]["aws_eks_addon_version"])
    assert len(lookups) == len(ADDONS)
    assert differences(without_metadata(synth_previous_eks.infra), without_metadata(synth.infra)) == sorted(
        lookups + [f"/resource/aws_eks_cluster/{cluster}/version"])


def test_the_previous_minor_is_the_one_before_in_the_table():
    assert previous_eks_version("1.35") == "1.34"
    assert previous_eks_version("1.34") == "1.33"
    with pytest.raises(ValueError, match=r"eks_version 1\.32: no earlier version in this platform's table"):
        previous_eks_version(min(EKS_STANDARD_SUPPORT_ENDS))


# --- managed add-ons ------------------------------------------------------------------------

def test_the_four_add_ons_are_managed_at_the_most_recent_version_for_the_clusters_kubernetes(synth):
    cluster = name_of(synth.infra, "aws_eks_cluster")
    every = addon_names(synth.infra)
    # The CloudWatch Observability add-on is ContainerInsights', pinned there: its pods' requests
    # are counted in capacity.py, so its version must not move by itself (test_container_insights.py).
    assert sorted(every) == sorted([*ADDONS, "amazon-cloudwatch-observability"])
    addons = {addon: name for addon, name in every.items() if addon in ADDONS}
    lookups = synth.infra["data"]["aws_eks_addon_version"]
    for addon, name in addons.items():
        body = resources(synth.infra, "aws_eks_addon")[name]
        lookup = body["addon_version"].removeprefix("${data.aws_eks_addon_version.").removesuffix(".version}")
        assert lookups[lookup]["addon_name"] == addon
        assert lookups[lookup]["most_recent"] is True, addon
        # The version itself, not a reference to the cluster's: Terraform reads a data source that
        # refers to a resource with changes pending only at apply, so an upgrade's plan would show
        # every add-on version as "known after apply" instead of the versions it installs.
        assert lookups[lookup]["kubernetes_version"] == synth.settings.eks_version, addon
        # Adopts the self-managed copy EKS installed at creation (see RESOLVE_CONFLICTS's sources).
        assert (body["resolve_conflicts_on_create"], body["resolve_conflicts_on_update"]) == ("OVERWRITE", "OVERWRITE")


def test_the_ebs_csi_add_on_keeps_the_address_existing_deployments_hold(synth):
    """Its address before this change (tests/__snapshots__ at 47e6d4f): a new one would delete
    the running driver and create it again."""
    assert addon_names(synth.infra)["aws-ebs-csi-driver"] == logical_id(["eks", "ebs_csi_driver"]) == (
        "eks_ebs_csi_driver_A67D303C")


def test_update_order_cluster_then_networking_add_ons_then_nodes_then_the_rest(synth):
    """Terraform creates and updates along the dependency graph: the control plane first; the
    CNI and kube-proxy before the node group (nodes become Ready with them); CoreDNS and the EBS
    CSI driver after it (their Deployments need nodes: the provider waits for ACTIVE)."""
    graph = dependency_graph(synth.infra)
    cluster = f"aws_eks_cluster.{name_of(synth.infra, 'aws_eks_cluster')}"
    nodes = f"aws_eks_node_group.{name_of(synth.infra, 'aws_eks_node_group')}"
    addon = {a: f"aws_eks_addon.{n}" for a, n in addon_names(synth.infra).items()}
    assert find_path(graph, nodes, cluster)
    assert find_path(graph, cluster, nodes) is None
    for before in ("vpc-cni", "kube-proxy"):
        assert find_path(graph, nodes, addon[before]), before
        assert find_path(graph, addon[before], cluster), before
        assert find_path(graph, addon[before], nodes) is None, before
    for after in ("coredns", "aws-ebs-csi-driver"):
        assert find_path(graph, addon[after], nodes), after


# --- the checks of the emulator's upgrade plan can fail ---------------------------------------

NODES, CLUSTER, ROLE = "aws_eks_node_group.n", "aws_eks_cluster.c", "aws_iam_role.r"
IN_PLACE = EksUpgrade(
    {CLUSTER: ["update"], NODES: ["update"], ROLE: ["update"]},
    {CLUSTER: {"version": "1.35"}, NODES: {"version": "1.35"}, ROLE: {"assume_role_policy": UNKNOWN}},
    {CLUSTER: ("1.34", "1.35"), NODES: ("1.34", "1.35")}, True, [NODES, CLUSTER])


@pytest.mark.parametrize("upgrade, expected", [
    (IN_PLACE, []),
    (replace(IN_PLACE, changes={**IN_PLACE.changes, NODES: ["delete", "create"]}),
     ["aws_eks_node_group.n: delete/create (only an in-place update is expected)"]),
    (replace(IN_PLACE, changes={CLUSTER: ["update"]}, versions={CLUSTER: ("1.34", "1.35")}),
     ["no aws_eks_node_group in the plan: the upgrade does not reach it"]),
    (replace(IN_PLACE, attributes={**IN_PLACE.attributes, ROLE: {"assume_role_policy": '{"Statement": []}'}}),
     ["aws_iam_role.r changes ['assume_role_policy']: only the cluster and the node group should"]),
    (replace(IN_PLACE, identity_kept=False),
     ["aws_iam_role.r changes ['assume_role_policy']: only the cluster and the node group should"]),
    (replace(IN_PLACE, changes={**IN_PLACE.changes, "aws_launch_template.t": ["update"]},
             attributes={**IN_PLACE.attributes, "aws_launch_template.t": {"latest_version": UNKNOWN}}),
     ["aws_launch_template.t changes ['latest_version']: only the cluster and the node group should"]),
    (replace(IN_PLACE, versions={**IN_PLACE.versions, NODES: ("1.34", "1.34")}),
     ["aws_eks_node_group.n: version 1.34 -> 1.34, expected -> 1.35"]),
    (replace(IN_PLACE, attributes={**IN_PLACE.attributes, CLUSTER: {"version": "1.35", "vpc_config": "[]"}}),
     ["aws_eks_cluster.c changes ['vpc_config'] besides its version"]),
    (replace(IN_PLACE, order=[]),
     ["the node group does not depend on the cluster: Terraform may update the nodes first"]),
], ids=["in-place", "replaced", "nodes-untouched", "trust-policy-rewritten", "issuer-changes", "other-change",
        "nodes-stay", "cluster-reconfigured", "unordered"])
def test_the_upgrade_plan_check_reports_each_defect(upgrade, expected):
    assert problems(upgrade, "1.35") == expected
