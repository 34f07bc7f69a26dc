"""The ONE place where the synthesized infra stack is adapted to moto, the AWS emulator.

`adapt_for_emulator(stack, endpoint=..., state_key=...)` returns a copy of the
synthesized `cdk.tf.json` dict that real Terraform and the real AWS provider can apply
against moto on 127.0.0.1, and the adaptations it made. Production code
(`airflow_platform/`) and the production JSON carry none of this.

- The provider block and the backend: where the emulator is (not gaps). State lives where
  production keeps it, in an S3 bucket through Terraform's S3 backend (`use_lockfile`), but
  in moto's own S3 (`STATE_BUCKET`), under the key the caller gives (the production key:
  airflow_platform/state_location.state_key), so environments can share it as they would.
- `GAPS`: one function per thing moto lacks or models differently from AWS, each with what
  goes wrong without it (measured with Terraform 1.11.4, aws 5.100.0, moto 5.2.5).
- `REHEARSAL`: not gaps; what lets a rehearsal destroy what it applied, whatever the profile.

docs/emulator.md lists them all. Everything else in the stack is applied as synthesized:
that is what the rehearsal proves.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Callable

# Every service the infra stack's resources and data sources call, plus those the provider
# may touch while reading them. An endpoint missing here would send a call to real AWS.
SERVICES = ("amp", "autoscaling", "cloudwatch", "dynamodb", "ec2", "ecr", "eks", "elb", "elbv2", "iam", "kms", "logs",
            "rds", "s3", "secretsmanager", "sns", "ssm", "sts")
CREDENTIAL = "test"
# Created by the cycle in moto before `terraform init`, as the bootstrap stack creates the real one.
STATE_BUCKET = "emulator-tfstate"


@dataclass(frozen=True)
class Adaptation:
    name: str
    effect: str  # what goes wrong against moto without it
    adapt: Callable[[dict], bool]  # changes the stack in place; True when it found something to adapt


# --- the provider and the backend (not gaps: where the emulator is) -----------------------

def point_provider_at(stack: dict, endpoint: str) -> None:
    """Fake credentials, no AWS metadata or region checks, every service at `endpoint`.

    `skip_requesting_account_id` stays false: moto answers GetCallerIdentity, and with it
    true security-group references read back as `123456789012/sg-...` and diff forever.
    """
    providers = stack.get("provider", {}).get("aws", [])
    if not providers:
        raise ValueError("the stack has no aws provider block")
    for provider in providers:
        provider.update({
            "access_key": CREDENTIAL,
            "secret_key": CREDENTIAL,
            "skip_credentials_validation": True,
            "skip_metadata_api_check": "true",
            "skip_region_validation": True,
            "skip_requesting_account_id": False,
            "s3_use_path_style": True,
            "endpoints": [{service: endpoint for service in SERVICES}],
        })
        for key in ("profile", "shared_config_files", "shared_credentials_files", "assume_role"):
            provider.pop(key, None)


def use_emulator_state(stack: dict, endpoint: str, state_key: str) -> None:
    """Terraform's S3 backend, as production configures it (encrypt, use_lockfile), on moto's S3."""
    region = stack["provider"]["aws"][0]["region"]
    stack.setdefault("terraform", {})["backend"] = {"s3": emulator_state_config(region, endpoint, state_key)}


def emulator_state_config(region: str, endpoint: str, state_key: str) -> dict:
    """The S3 backend's settings for `state_key` of moto's `STATE_BUCKET`: a stack's backend, and
    the `terraform_remote_state` that reads it.

    Terraform 1.11's S3 backend arguments (developer.hashicorp.com/terraform/language/backend/s3):
    `endpoints.s3`/`endpoints.sts`, `use_path_style`, static `access_key`/`secret_key`, and the
    `skip_*` checks that would otherwise call IMDS, STS or validate the region name.
    """
    return {
        "bucket": STATE_BUCKET, "key": state_key, "region": region, "encrypt": True, "use_lockfile": True,
        "endpoints": {"s3": endpoint, "sts": endpoint}, "use_path_style": True,
        "access_key": CREDENTIAL, "secret_key": CREDENTIAL, "skip_credentials_validation": True,
        "skip_requesting_account_id": True, "skip_metadata_api_check": True, "skip_region_validation": True,
    }


# --- helpers --------------------------------------------------------------------------------

def _resources(stack: dict, rtype: str) -> dict[str, dict]:
    return stack.get("resource", {}).get(rtype, {})


def _remove_resource_type(stack: dict, rtype: str) -> bool:
    """Drop every resource of `rtype`; refuses if anything left in the stack refers to one."""
    removed = stack.get("resource", {}).pop(rtype, None)
    if not removed:
        return False
    text = json.dumps(stack)
    dangling = sorted({m.group(0) for m in re.finditer(rf"\b{re.escape(rtype)}\.[A-Za-z0-9_-]+", text)})
    if dangling:
        raise ValueError(f"cannot leave {rtype} out for the emulator: still referred to as {dangling}")
    return True


def _remove_data_type(stack: dict, dtype: str) -> bool:
    """Drop every data source of `dtype`; refuses if anything left in the stack refers to one."""
    removed = stack.get("data", {}).pop(dtype, None)
    if not removed:
        return False
    if not stack["data"]:
        del stack["data"]
    dangling = sorted({m.group(0) for m in re.finditer(rf"\bdata\.{re.escape(dtype)}\.[A-Za-z0-9_-]+", json.dumps(stack))})
    if dangling:
        raise ValueError(f"cannot leave data.{dtype} out for the emulator: still referred to as {dangling}")
    return True


def _ignore_changes(resource: dict, *attributes: str) -> None:
    lifecycle = resource.setdefault("lifecycle", {})
    ignored = lifecycle.get("ignore_changes", [])
    if ignored == "all":
        return
    lifecycle["ignore_changes"] = ignored + [a for a in attributes if a not in ignored]


# --- the gaps -------------------------------------------------------------------------------

def no_prometheus_scraper(stack: dict) -> bool:
    """GAP: moto's AMP (5.2, moto/amp/urls.py) has workspaces, rule groups namespaces and
    alert manager definitions, but no scraper API; creating `aws_prometheus_scraper` fails
    (404). Its access entry goes with the other access entries."""
    return _remove_resource_type(stack, "aws_prometheus_scraper")


def amp_without_kms_and_tags(stack: dict) -> bool:
    """GAP: moto's AMP DescribeWorkspace omits `kmsKeyArn` (the workspace is replaced on every
    plan, and its rule groups and alert manager with it), and its workspaces and rule groups
    namespaces read back `tags = {}` where the configuration has none (seen in the re-plan)."""
    found = False
    for rtype, attributes in (("aws_prometheus_workspace", ("kms_key_arn", "tags")),
                              ("aws_prometheus_rule_group_namespace", ("tags",))):
        for resource in _resources(stack, rtype).values():
            _ignore_changes(resource, *attributes)
            found = True
    return found


def no_eks_addons(stack: dict) -> bool:
    """GAP: moto has no EKS add-on API; creating `aws_eks_addon` fails with 404, and so does
    DescribeAddonVersions, which `data.aws_eks_addon_version` (the add-ons' versions) calls at
    plan. The add-ons go first: they refer to the data sources. The node group's `depends_on`
    on the networking add-ons (an order, no value) goes with them."""
    for items in stack.get("resource", {}).values():
        for body in items.values():
            if "depends_on" in body:
                body["depends_on"] = [d for d in body["depends_on"] if not d.startswith("aws_eks_addon.")]
    removed = _remove_resource_type(stack, "aws_eks_addon")
    return _remove_data_type(stack, "aws_eks_addon_version") or removed


def no_db_parameter_values(stack: dict) -> bool:
    """GAP: moto's DescribeDBParameters omits `Source`, so the provider never finds the
    user-set parameters and `aws_db_parameter_group.parameter` diffs on every plan."""
    found = False
    for group in _resources(stack, "aws_db_parameter_group").values():
        found |= bool(group.pop("parameter", None))
    return found


def node_group_ignores_moto_fields(stack: dict) -> bool:
    """GAP: moto injects `remote_access` into a node group, drops `update_config`, and has
    no DescribeUpdate; without ignoring both, every plan replaces or fails to update it."""
    groups = _resources(stack, "aws_eks_node_group")
    for group in groups.values():
        _ignore_changes(group, "remote_access", "update_config")
    return bool(groups)


def eks_cluster_without_access_api(stack: dict) -> bool:
    """GAP: moto's EKS has no access-entry API and DescribeCluster omits `accessConfig`, so
    `access_config.bootstrap_cluster_creator_admin_permissions` reads back empty and forces
    a replacement of the cluster (and, through the new OIDC issuer, of the OIDC provider
    and both IRSA trust policies) on every plan; any `aws_eks_access_entry` or
    `aws_eks_access_policy_association` would fail to create (404)."""
    clusters = _resources(stack, "aws_eks_cluster")
    for cluster in clusters.values():
        _ignore_changes(cluster, "access_config")
    # Associations first: they refer to the entries.
    removed = _remove_resource_type(stack, "aws_eks_access_policy_association")
    removed |= _remove_resource_type(stack, "aws_eks_access_entry")
    return bool(clusters) or removed


def eks_cluster_without_upgrade_policy(stack: dict) -> bool:
    """GAP: moto's EKS does not model `upgradePolicy`: DescribeCluster omits it, so
    `upgrade_policy.support_type` reads back empty and diffs on every plan."""
    clusters = _resources(stack, "aws_eks_cluster")
    found = False
    for cluster in clusters.values():
        if cluster.get("upgrade_policy"):
            _ignore_changes(cluster, "upgrade_policy")
            found = True
    return found


def launch_template_own_tags_not_template_data(stack: dict) -> bool:
    """GAP: moto copies CreateLaunchTemplate's own TagSpecifications (resource type
    `launch-template`: the provider's default_tags) into the template DATA, so
    `tag_specifications` gains a `launch-template` block that the config does not have: a
    new template version on every plan, and with it an update of the node group (which
    moto cannot do, see above). The stack already tags instances and volumes through
    `tag_specifications`; only the provider's default tags land on the template itself."""
    templates = _resources(stack, "aws_launch_template")
    for template in templates.values():
        _ignore_changes(template, "tag_specifications")
    return bool(templates)


def db_instance_without_performance_insights(stack: dict) -> bool:
    """GAP: moto's RDS does not model Performance Insights: DescribeDBInstances reports it
    disabled with no KMS key, so `performance_insights_enabled` (false -> true) and
    `performance_insights_kms_key_id` diff on every plan. And an instance created with it
    cannot be restored: moto's restore_db_instance_to_point_in_time copies the source's
    attributes by name, `performance_insights_enabled` is not the constructor's
    `enable_performance_insights`, and the copied KMS key then fails its own check
    ("To enable Performance Insights, EnablePerformanceInsights must be set to 'true'",
    moto/rds/models.py). So the arguments are not sent, and changes to them ignored."""
    instances = _resources(stack, "aws_db_instance")
    found = False
    for instance in instances.values():
        if instance.get("performance_insights_enabled"):
            for attribute in ("performance_insights_enabled", "performance_insights_kms_key_id",
                              "performance_insights_retention_period"):
                instance.pop(attribute, None)
            _ignore_changes(instance, "performance_insights_enabled", "performance_insights_kms_key_id",
                            "performance_insights_retention_period")
            found = True
    return found


GAPS: tuple[Adaptation, ...] = (
    Adaptation("no EKS add-on API", "aws_eks_addon create and data.aws_eks_addon_version read fail (404)",
        no_eks_addons),
    Adaptation("DescribeDBParameters omits Source", "aws_db_parameter_group parameters diff on every plan",
        no_db_parameter_values),
    Adaptation("node group: remote_access injected, update_config dropped, no DescribeUpdate",
        "aws_eks_node_group replaced or failing to update on every plan", node_group_ignores_moto_fields),
    Adaptation("EKS: no accessConfig in DescribeCluster, no access-entry API",
        "aws_eks_cluster replaced on every plan; access entries fail to create (404)",
        eks_cluster_without_access_api),
    Adaptation("AMP: no scraper API", "aws_prometheus_scraper create fails (404)", no_prometheus_scraper),
    Adaptation("AMP: no kmsKeyArn in DescribeWorkspace, empty tags read back",
        "aws_prometheus_workspace (and its rules, alert manager) replaced on every plan", amp_without_kms_and_tags),
    Adaptation("EKS: no upgradePolicy", "aws_eks_cluster upgrade_policy diffs on every plan",
        eks_cluster_without_upgrade_policy),
    Adaptation("launch template: its own tags copied into the template data",
        "aws_launch_template gets a new version, and the node group an update, on every plan",
        launch_template_own_tags_not_template_data),
    Adaptation("RDS: no Performance Insights",
        "aws_db_instance performance_insights_enabled/kms_key_id diff on every plan; such an instance cannot be"
        " restored",
        db_instance_without_performance_insights),
)


# --- not gaps: so that a rehearsal can always destroy what it applied --------------------

def destroyable_database(stack: dict) -> bool:
    """REHEARSAL (not a gap): in the prod profile the DB instance has deletion protection and
    takes a final snapshot; moto honours both, so destroy would fail, or leave a snapshot."""
    found = False
    for instance in _resources(stack, "aws_db_instance").values():
        if instance.get("deletion_protection") or instance.get("skip_final_snapshot") is False:
            instance.update(deletion_protection=False, skip_final_snapshot=True)
            instance.pop("final_snapshot_identifier", None)
            found = True
    return found


REHEARSAL: tuple[Adaptation, ...] = (
    Adaptation("database destroyable", "prod profile: destroy fails on deletion protection", destroyable_database),
)


def adapt_for_emulator(stack: dict, *, endpoint: str, state_key: str) -> tuple[dict, list[Adaptation]]:
    """A copy of `stack` that applies against moto at `endpoint`, keeping its state at `state_key`
    of moto's `STATE_BUCKET`, and the adaptations it needed."""
    adapted = copy.deepcopy(stack)
    point_provider_at(adapted, endpoint)
    use_emulator_state(adapted, endpoint, state_key)
    made = [adaptation for adaptation in GAPS + REHEARSAL if adaptation.adapt(adapted)]
    return adapted, made
