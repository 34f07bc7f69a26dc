"""The EKS upgrade phase of the emulator cycle: the infra stack applied at the previous
Kubernetes minor, then planned at the target one (the default `eks_version`). The plan must
update the control plane, then the node group, in place, and nothing else.

    cycle = EmulatorCycle(<infra synthesized with eks_version = previous_eks_version(target)>, ...)
    cycle.up()
    upgrade = check_eks_upgrade(cycle, <infra synthesized at the target>)  # raises EksUpgradeNotInPlace

What the emulator cannot show (say so wherever this is reported):
- the upgrade is planned, never applied: moto's EKS has no UpdateClusterVersion or
  UpdateNodegroupVersion (moto/eks/urls.py routes no `/updates`), so the cycle goes on at the
  previous minor;
- the add-ons are left out (no add-on API, tools/emulator/adapt.py). On AWS their upgrade is a
  new `addon_version` from `data.aws_eks_addon_version`, an in-place UpdateAddon
  (`addon_version` is not ForceNew: internal/service/eks/addon.go); tests/test_eks_upgrades.py
  checks their place in the dependency graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.tf_graph import dependency_graph, find_path

PLAN_LOG = "plan-eks-upgrade"
CLUSTER, NODE_GROUP = "aws_eks_cluster", "aws_eks_node_group"


class EksUpgradeNotInPlace(RuntimeError):
    """The upgrade plan replaces something, changes something else, or orders it wrongly."""


@dataclass(frozen=True)
class EksUpgrade:
    changes: dict[str, list[str]]  # address -> Terraform's actions, for every managed resource that changes
    versions: dict[str, tuple[str, str]]  # address -> `version` before and after, for the cluster and node group
    order: list[str]  # the dependency path node group -> cluster: Terraform updates the last one first


def check_eks_upgrade(cycle, target_stack: dict, *, log: str = PLAN_LOG) -> EksUpgrade:
    """Plans `target_stack` (the default version) against the cycle's state (the previous one);
    raises EksUpgradeNotInPlace unless the cluster and the node group, and nothing else, are
    updated in place, to the target's version, the node group after the cluster."""
    plan = cycle.plan_of(target_stack, log=log)
    upgrade = read_upgrade(plan, target_stack)
    found = problems(upgrade, target_version(target_stack))
    if found:
        raise EksUpgradeNotInPlace("the EKS upgrade plan is not an in-place update of the control plane, "
                                   "then the nodes:\n  " + "\n  ".join(found))
    return upgrade


def target_version(stack: dict) -> str:
    (cluster,) = stack["resource"][CLUSTER].values()
    return cluster["version"]


def read_upgrade(plan: dict, stack: dict) -> EksUpgrade:
    """The parts of a plan (`terraform show -json`) and of the stack's graph the checks need."""
    changes, versions = {}, {}
    for change in plan.get("resource_changes", []):
        if change["mode"] != "managed" or change["change"]["actions"] == ["no-op"]:
            continue
        changes[change["address"]] = change["change"]["actions"]
        if change["type"] in (CLUSTER, NODE_GROUP):
            versions[change["address"]] = ((change["change"]["before"] or {}).get("version"),
                                           (change["change"]["after"] or {}).get("version"))
    graph = dependency_graph(stack)
    (cluster,) = [f"{CLUSTER}.{name}" for name in stack["resource"][CLUSTER]]
    (node_group,) = [f"{NODE_GROUP}.{name}" for name in stack["resource"][NODE_GROUP]]
    return EksUpgrade(changes, versions, find_path(graph, node_group, cluster) or [])


def problems(upgrade: EksUpgrade, to_version: str) -> list[str]:
    """Everything that makes `upgrade` other than an in-place update of the cluster, then the node group."""
    found = [f"{address}: {'/'.join(actions)} (only an in-place update is expected)"
             for address, actions in sorted(upgrade.changes.items()) if actions != ["update"]]
    kinds = {address.split(".")[0] for address in upgrade.changes}
    found += [f"{address} changes: only the cluster and the node group should"
              for address in sorted(upgrade.changes) if address.split(".")[0] not in (CLUSTER, NODE_GROUP)]
    found += [f"no {kind} in the plan: the upgrade does not reach it" for kind in (CLUSTER, NODE_GROUP)
              if kind not in kinds]
    found += [f"{address}: version {before} -> {after}, expected -> {to_version}"
              for address, (before, after) in sorted(upgrade.versions.items())
              if after != to_version or before == after]
    if len(upgrade.order) < 2:
        found.append("the node group does not depend on the cluster: Terraform may update the nodes first")
    return found
