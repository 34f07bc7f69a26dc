"""The EKS upgrade phase of the emulator cycle: the infra stack applied at the previous
Kubernetes minor, then planned at the target one (the default `eks_version`). The plan must
update the control plane, then the node group, in place, and nothing else (but the trust
policies Terraform reads again at apply, READ_AGAIN).

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
UNKNOWN = "(known after apply)"
# Terraform reads a data source again at apply when it depends on a resource with changes
# pending: its plan says "will be read during apply (depends on a resource or a module with
# changes pending)". The IRSA trust documents read the cluster's OIDC issuer, so any cluster
# change shows each role that trusts the issuer with its trust policy known only after apply.
# Harmless when the plan keeps the cluster's `identity` (the issuer) as it is: the documents
# are read again from the same issuer. Seen in the first run of this check.
READ_AGAIN = {"aws_iam_role": {"assume_role_policy"}}


class EksUpgradeNotInPlace(RuntimeError):
    """The upgrade plan replaces something, changes something else, or orders it wrongly."""


@dataclass(frozen=True)
class EksUpgrade:
    changes: dict[str, list[str]]  # address -> Terraform's actions, for every managed resource that changes
    attributes: dict[str, dict[str, str]]  # address -> changed attribute -> its new value, or UNKNOWN
    versions: dict[str, tuple[str, str]]  # address -> `version` before and after, for the cluster and node group
    identity_kept: bool  # the cluster's planned `identity` (its OIDC issuer) is the one it has
    order: list[str]  # the dependency path node group -> cluster: Terraform updates the last one first


def check_eks_upgrade(cycle, target_stack: dict, *, log: str = PLAN_LOG) -> EksUpgrade:
    """Plans `target_stack` (the default version) against the cycle's state (the previous one);
    raises EksUpgradeNotInPlace unless the cluster and the node group are updated in place, to
    the target's version, the node group after the cluster, and nothing else changes (but the
    trust policies read again at apply, READ_AGAIN)."""
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
    changes, attributes, versions, identity_kept = {}, {}, {}, False
    for change in plan.get("resource_changes", []):
        if change["mode"] != "managed" or change["change"]["actions"] == ["no-op"]:
            continue
        before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
        unknown = change["change"].get("after_unknown") or {}
        changes[change["address"]] = change["change"]["actions"]
        attributes[change["address"]] = {
            key: UNKNOWN if unknown.get(key) is True else str(after.get(key))
            for key in sorted(set(before) | set(after) | set(unknown))
            if unknown.get(key) is True or before.get(key) != after.get(key)}
        if change["type"] in (CLUSTER, NODE_GROUP):
            versions[change["address"]] = (before.get("version"), after.get("version"))
        if change["type"] == CLUSTER:
            identity_kept = unknown.get("identity") is not True and before.get("identity") == after.get("identity")
    graph = dependency_graph(stack)
    (cluster,) = [f"{CLUSTER}.{name}" for name in stack["resource"][CLUSTER]]
    (node_group,) = [f"{NODE_GROUP}.{name}" for name in stack["resource"][NODE_GROUP]]
    return EksUpgrade(changes, attributes, versions, identity_kept, find_path(graph, node_group, cluster) or [])


def read_again(upgrade: EksUpgrade, address: str) -> bool:
    """A change that is only a trust policy read again at apply from an issuer the plan keeps."""
    changed = upgrade.attributes.get(address, {})
    allowed = READ_AGAIN.get(address.split(".")[0], set())
    return (upgrade.identity_kept and bool(changed) and set(changed) <= allowed
            and all(value == UNKNOWN for value in changed.values()))


def problems(upgrade: EksUpgrade, to_version: str) -> list[str]:
    """Everything that makes `upgrade` other than an in-place update of the cluster, then the node group."""
    found = [f"{address}: {'/'.join(actions)} (only an in-place update is expected)"
             for address, actions in sorted(upgrade.changes.items()) if actions != ["update"]]
    kinds = {address.split(".")[0] for address in upgrade.changes}
    found += [f"{address} changes {sorted(upgrade.attributes.get(address, {}))}: only the cluster and the node "
              "group should" for address in sorted(upgrade.changes)
              if address.split(".")[0] not in (CLUSTER, NODE_GROUP) and not read_again(upgrade, address)]
    found += [f"no {kind} in the plan: the upgrade does not reach it" for kind in (CLUSTER, NODE_GROUP)
              if kind not in kinds]
    found += [f"{address}: version {before} -> {after}, expected -> {to_version}"
              for address, (before, after) in sorted(upgrade.versions.items())
              if after != to_version or before == after]
    found += [f"{address} changes {sorted(set(changed) - {'version'})} besides its version"
              for address, changed in sorted(upgrade.attributes.items())
              if address.split(".")[0] in (CLUSTER, NODE_GROUP) and set(changed) - {"version"}]
    if len(upgrade.order) < 2:
        found.append("the node group does not depend on the cluster: Terraform may update the nodes first")
    return found
