"""tools/emulator/adapt.py, without an emulator: what it changes, and that production has none of it."""

from __future__ import annotations

import copy
import json

import pytest

from tools.emulator.adapt import GAPS, REHEARSAL, SERVICES, adapt_for_emulator

ENDPOINT = "http://127.0.0.1:5000"

# The AWS API each resource type and data source of the infra stack calls (longest prefix
# wins; None: computed by the provider, no call). A new type fails the endpoint test
# below until it is listed here, so the emulator never sends a call past moto.
SERVICE_OF = {
    "aws_cloudwatch_log_group": "logs", "aws_db_": "rds", "aws_eks_": "eks", "aws_iam_": "iam",
    "aws_kms_": "kms", "aws_s3_": "s3", "aws_secretsmanager_": "secretsmanager",  # pragma: allowlist secret
    "aws_vpc": "ec2", "aws_subnet": "ec2", "aws_route": "ec2", "aws_internet_gateway": "ec2",
    "aws_nat_gateway": "ec2", "aws_eip": "ec2", "aws_security_group": "ec2", "aws_default_security_group": "ec2",
    "aws_vpc_security_group_": "ec2", "aws_launch_template": "ec2", "aws_flow_log": "ec2",
    "data.aws_caller_identity": "sts", "data.aws_eks_cluster": "eks", "data.aws_eks_addon_version": "eks",
    "aws_cloudwatch_metric_alarm": "cloudwatch", "aws_sns_": "sns", "aws_prometheus_": "amp", "aws_ecr_": "ecr",
    "data.aws_partition": None, "data.aws_region": None, "data.aws_iam_policy_document": None,
}


def service_of(kind: str) -> str | None:
    prefixes = [p for p in SERVICE_OF if kind.startswith(p)]
    assert prefixes, f"{kind}: which AWS API does it call? add it to SERVICE_OF"
    return SERVICE_OF[max(prefixes, key=len)]


@pytest.fixture(scope="module")
def adapted(synth):
    return adapt_for_emulator(synth.infra, endpoint=ENDPOINT, state_key="airflow-platform/airflow-dev/infra.tfstate")


def test_the_synthesized_stack_is_left_untouched(synth):
    before = copy.deepcopy(synth.infra)
    adapt_for_emulator(synth.infra, endpoint=ENDPOINT, state_key="airflow-platform/airflow-dev/infra.tfstate")
    assert synth.infra == before


def test_production_json_carries_no_emulator_setting(synth):
    assert "127.0.0.1" not in json.dumps(synth.infra)
    (provider,) = synth.infra["provider"]["aws"]
    assert set(provider) == {"region", "default_tags"}
    resources = synth.infra["resource"]
    assert resources["aws_eks_addon"]
    assert all(g["parameter"] for g in resources["aws_db_parameter_group"].values())
    adapted_attributes = {"remote_access", "update_config", "access_config", "upgrade_policy", "tag_specifications",
                          "performance_insights_enabled", "performance_insights_kms_key_id"}
    for rtype, items in resources.items():
        for name, body in items.items():
            ignored = set(body.get("lifecycle", {}).get("ignore_changes", []))
            assert not ignored & adapted_attributes, f"{rtype}.{name} ignores {ignored & adapted_attributes}"


def test_provider_points_every_service_at_the_emulator(adapted):
    stack, _ = adapted
    (provider,) = stack["provider"]["aws"]
    (endpoints,) = provider["endpoints"]
    assert set(endpoints) == set(SERVICES) and set(endpoints.values()) == {ENDPOINT}
    assert provider["access_key"] == provider["secret_key"] == "test"
    assert provider["skip_requesting_account_id"] is False
    assert provider["region"] == "us-east-1" and provider["default_tags"]
    backend = stack["terraform"]["backend"]["s3"]  # production's backend, on moto's S3
    assert (backend["bucket"], backend["key"]) == ("emulator-tfstate", "airflow-platform/airflow-dev/infra.tfstate")
    assert backend["endpoints"] == {"s3": ENDPOINT, "sts": ENDPOINT} and backend["use_lockfile"] is True


def test_every_api_the_stack_calls_has_an_endpoint(synth):
    kinds = list(synth.infra["resource"]) + [f"data.{d}" for d in synth.infra.get("data", {})]
    missing = {k: service_of(k) for k in kinds if service_of(k) and service_of(k) not in SERVICES}
    assert missing == {}


def test_every_gap_applies_to_the_dev_stack(adapted):
    """An adaptation that no longer finds its target is stale: remove it (and its docs)."""
    _, made = adapted
    assert [a.name for a in made] == [g.name for g in GAPS]


def test_what_the_gaps_change(adapted):
    stack, _ = adapted
    resources = stack["resource"]
    assert "aws_eks_addon" not in resources
    assert all("parameter" not in g for g in resources["aws_db_parameter_group"].values())
    (group,) = resources["aws_eks_node_group"].values()
    assert group["lifecycle"]["ignore_changes"] == ["scaling_config[0].desired_size", "remote_access", "update_config"]
    (cluster,) = resources["aws_eks_cluster"].values()
    assert cluster["lifecycle"]["ignore_changes"] == [
        "access_config[0].bootstrap_cluster_creator_admin_permissions",  # production's own
        "access_config", "upgrade_policy"]
    (template,) = resources["aws_launch_template"].values()
    assert template["lifecycle"]["ignore_changes"] == ["tag_specifications"]
    (instance,) = resources["aws_db_instance"].values()
    assert "performance_insights_enabled" in instance["lifecycle"]["ignore_changes"]
    # Not sent: moto cannot restore an instance created with it (tools/emulator/adapt.py).
    assert "performance_insights_enabled" not in instance and "performance_insights_kms_key_id" not in instance


def test_prod_stack_loses_its_access_entries_and_becomes_destroyable(synth_prod):
    assert synth_prod.infra["resource"]["aws_eks_access_entry"]  # the case being tested
    key = synth_prod.infra["terraform"]["backend"]["s3"]["key"]
    stack, made = adapt_for_emulator(synth_prod.infra, endpoint=ENDPOINT, state_key=key)
    assert "aws_eks_access_entry" not in stack["resource"]
    assert "aws_eks_access_policy_association" not in stack["resource"]
    # Its S3 backend moves to moto's bucket, keeping prod's key: dev and prod share the bucket there too.
    assert stack["terraform"]["backend"]["s3"]["bucket"] == "emulator-tfstate"
    assert stack["terraform"]["backend"]["s3"]["key"] == "airflow-platform/airflow-prod/infra.tfstate"
    (instance,) = stack["resource"]["aws_db_instance"].values()
    assert instance["deletion_protection"] is False and instance["skip_final_snapshot"] is True
    assert "final_snapshot_identifier" not in instance
    assert [a.name for a in made] == [a.name for a in GAPS + REHEARSAL]


@pytest.mark.parametrize("kind", ["resource", "data"])
def test_leaving_out_a_type_something_still_refers_to_is_refused(synth, kind):
    stack = copy.deepcopy(synth.infra)
    address = {"resource": "aws_eks_addon", "data": "data.aws_eks_addon_version"}[kind]
    name = next(iter(stack[kind][address.removeprefix("data.")]))
    stack["output"]["addon_version"] = {"value": f"${{{address}.{name}.version}}"}
    with pytest.raises(ValueError, match=f"cannot leave {address} out"):
        adapt_for_emulator(stack, endpoint=ENDPOINT, state_key="airflow-platform/airflow-dev/infra.tfstate")


def test_the_add_ons_and_their_version_lookups_are_left_out_with_the_node_groups_wait_on_them(adapted):
    stack, _ = adapted
    assert "aws_eks_addon" not in stack["resource"] and "aws_eks_addon_version" not in stack.get("data", {})
    (group,) = stack["resource"]["aws_eks_node_group"].values()
    assert group["depends_on"] and not [d for d in group["depends_on"] if "aws_eks_addon" in d]


@pytest.mark.parametrize("message", [
    # terraform-provider-aws 5.x: the create's error, and its own check for an existing route
    "creating Route in Route Table (rtb-0a1b2c3d) with destination (10.1.0.0/16): operation error EC2: "
    "CreateRoute, https response error StatusCode: 400, api error RouteAlreadyExists: The route identified "
    "by 10.1.0.0/16 already exists",
    "RouteAlreadyExists: Route in Route Table (rtb-0a1b2c3d) with destination (10.1.0.0/16) already exists",
])
def test_a_route_left_behind_by_a_retried_create_is_found_for_removal(message):
    from tools.emulator.cycle import MOTO_RACES, ORPHAN_ROUTE

    assert any(race in message for race in MOTO_RACES)
    assert ORPHAN_ROUTE.findall(message) == [("rtb-0a1b2c3d", "10.1.0.0/16")]
