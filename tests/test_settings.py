"""Settings: defaults that synthesize, environment overrides, and one clear error per bad input."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from airflow_platform.settings import (
    SETTING_NAMES, SettingsError, cidr_problem, is_graviton, load_settings, read_context, setting_docs,
)
from airflow_platform.profiles import PROFILE_SIZED_SETTINGS, PROFILES
from paths import REPO


def load(**overrides):
    return load_settings(environ={f"AIRFLOW_PLATFORM_{k.upper()}": v for k, v in overrides.items()})


def problems(**overrides) -> list[str]:
    with pytest.raises(SettingsError) as err:
        load(**overrides)
    return err.value.problems


def test_the_committed_defaults_are_valid_and_dev():
    s = load()
    assert s.profile == "dev" and s.chart_version == "1.21.0"
    assert s.choices == PROFILES["dev"]


def test_prod_profile_switches_cost_and_availability():
    assert load(profile="prod").choices == PROFILES["prod"]


def test_profiles_give_the_defaults_of_node_sizes_and_worker_bounds():
    for profile in PROFILES:
        s = load(profile=profile)
        assert {name: getattr(s, name) for name in PROFILE_SIZED_SETTINGS} == {
            name: getattr(PROFILES[profile], name) for name in PROFILE_SIZED_SETTINGS}
    assert load(profile="prod", node_instance_types="m6i.2xlarge").node_instance_types == ("m6i.2xlarge",)
    context = dict(read_context(), node_max_size=6)  # cdktf.json overrides the profile too
    assert load_settings(context=context, environ={"AIRFLOW_PLATFORM_PROFILE": "prod"}).node_max_size == 6


def test_environment_overrides_context_and_parses_lists_and_numbers():
    s = load(node_instance_types="m6i.xlarge, m5.xlarge", node_max_size="6", rds_subnets_public="true")
    assert s.node_instance_types == ("m6i.xlarge", "m5.xlarge")
    assert s.node_max_size == 6 and s.rds_subnets_public is True


def test_every_setting_is_in_cdktf_json_and_documented_in_the_readme():
    readme = (REPO / "README.md").read_text()
    assert set(read_context()) | set(PROFILE_SIZED_SETTINGS) == set(SETTING_NAMES)
    for name, doc in setting_docs().items():
        assert f"`{name}`" in readme, f"README does not document {name}"
        assert doc


def test_unknown_settings_are_rejected():
    with pytest.raises(SettingsError, match="AIRFLOW_PLATFORM_NODE_MINSIZE: unknown setting"):
        load(node_minsize="1")
    context = dict(read_context(), nodes_max=3)
    with pytest.raises(SettingsError, match="nodes_max: unknown setting in cdktf.json context"):
        load_settings(context=context, environ={})


@pytest.mark.parametrize("value", ["10.0.0.0/33", "10.0.0.1/16", "ten.0.0.0/16", "", "10.0.0.0"])
def test_malformed_vpc_cidr(value):
    assert any(p.startswith("eks_vpc_cidr:") for p in problems(eks_vpc_cidr=value))


def test_overlapping_vpcs_are_rejected_because_peering_cannot_route_them():
    found = problems(rds_vpc_cidr="10.0.128.0/17", rds_subnet_cidrs="10.0.128.0/24,10.0.129.0/24")
    assert any("overlaps eks_vpc_cidr" in p and "peered" in p for p in found)


def test_subnet_outside_its_vpc():
    found = problems(eks_private_subnet_cidrs="10.0.32.0/19,10.9.0.0/19")
    assert "eks_private_subnet_cidrs: '10.9.0.0/19' is not allowed; it lies outside eks_vpc_cidr 10.0.0.0/16" in found


def test_overlapping_subnets():
    found = problems(eks_public_subnet_cidrs="10.0.0.0/22,10.0.32.0/24")
    assert any("10.0.32.0/24" in p and "overlaps" in p and "10.0.32.0/19" in p for p in found)


def test_fewer_than_two_azs():
    found = problems(availability_zones="us-east-1a", eks_public_subnet_cidrs="10.0.0.0/22",
                     eks_private_subnet_cidrs="10.0.32.0/19", rds_subnet_cidrs="10.1.0.0/24")
    assert any(p.startswith("availability_zones:") and "at least two" in p for p in found)


def test_azs_of_another_region():
    assert any("use zones of region us-east-1" in p for p in problems(availability_zones="eu-west-1a,eu-west-1b"))


@pytest.mark.parametrize("sizes, setting, allowed", [
    ({"node_min_size": "3", "node_desired_size": "2"}, "node_desired_size", "at least node_min_size (3)"),
    ({"node_desired_size": "5", "node_max_size": "4"}, "node_desired_size", "at most node_max_size (4)"),
    ({"node_min_size": "0", "node_desired_size": "0"}, "node_min_size", "use 1 or more"),
])
def test_node_sizes(sizes, setting, allowed):
    assert any(p.startswith(f"{setting}:") and allowed in p for p in problems(**sizes))


@pytest.mark.parametrize("name", ["Airflow", "a", "airflow_dev", "1airflow", "airflow-", "air--flow",
                                  "a-name-longer-than-twenty"])
def test_names_aws_would_reject(name):
    assert any(p.startswith("name:") for p in problems(name=name))


def test_unknown_profile():
    assert problems(profile="staging") == ["profile: 'staging' is not allowed; use one of dev, prod"]


@pytest.mark.parametrize("region", ["useast1", "us-east", "US-EAST-1", "mars-north-1x"])
def test_region_format(region):
    assert any(p.startswith("region:") for p in problems(region=region))


@pytest.mark.parametrize("cidr", ["0.0.0.0", "1.2.3.4/40", "203.0.113.1/24", "everyone"])
def test_bad_load_balancer_source_cidrs(cidr):
    assert any(p.startswith(f"load_balancer_source_cidrs: '{cidr}'") for p in problems(load_balancer_source_cidrs=cidr))


def test_mixed_architectures_are_rejected():
    assert is_graviton("m7g.large") and is_graviton("c7gn.xlarge") and not is_graviton("g5.xlarge")
    assert any(p.startswith("node_instance_types:") for p in problems(node_instance_types="m6i.large,m7g.large"))


def test_every_problem_is_reported_at_once():
    found = problems(profile="staging", node_min_size="0", name="X")
    assert {p.split(":")[0] for p in found} >= {"profile", "node_min_size", "name"}


# --- properties of the CIDR rules ---------------------------------------------------------

networks = st.builds(
    lambda addr, prefix: ipaddress.ip_network((addr, prefix), strict=False),
    st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=16, max_value=28),
)


@given(networks)
def test_any_canonical_network_is_accepted(net):
    assert cidr_problem(str(net)) is None


@given(networks)
def test_host_bits_set_are_rejected(net):
    host = net.network_address + 1
    assert cidr_problem(f"{host}/{net.prefixlen}") is not None


@hyp_settings(max_examples=60, deadline=None)
@given(networks, networks)
def test_vpc_pairs_are_accepted_exactly_when_disjoint(eks, rds):
    """For any two VPC CIDRs (with subnets carved inside each), the overlap rule matches ipaddress."""
    eks_subnets = list(eks.subnets(new_prefix=min(eks.prefixlen + 2, 28)))[:4]
    rds_subnets = list(rds.subnets(new_prefix=min(rds.prefixlen + 1, 28)))[:2]
    if len(eks_subnets) < 4 or len(rds_subnets) < 2:
        return
    overrides = dict(
        eks_vpc_cidr=str(eks), eks_public_subnet_cidrs=",".join(map(str, eks_subnets[:2])),
        eks_private_subnet_cidrs=",".join(map(str, eks_subnets[2:])),
        rds_vpc_cidr=str(rds), rds_subnet_cidrs=",".join(map(str, rds_subnets)),
    )
    if eks.overlaps(rds):
        assert any(p.startswith("rds_vpc_cidr:") and "overlaps" in p for p in problems(**overrides))
    else:
        load(**overrides)


@hyp_settings(max_examples=60, deadline=None)
@given(st.lists(networks, min_size=2, max_size=2))
def test_subnets_are_accepted_exactly_when_inside_the_vpc(subnets):
    vpc = ipaddress.ip_network("10.0.0.0/16")
    overrides = dict(eks_private_subnet_cidrs=",".join(map(str, subnets)))
    inside = all(s.subnet_of(vpc) for s in subnets)
    disjoint = not subnets[0].overlaps(subnets[1]) and not any(
        s.overlaps(ipaddress.ip_network(p)) for s in subnets for p in ("10.0.0.0/22", "10.0.4.0/22"))
    if inside and disjoint:
        load(**overrides)
    else:
        assert any(p.startswith("eks_private_subnet_cidrs:") for p in problems(**overrides))


# --- the bootstrap stack's inputs -------------------------------------------------------------

@pytest.mark.parametrize("repository", ["your-org/airflow-on-eks", "A/b", "my-org-1/repo.name_2", "o/.github"])
def test_github_repositories_github_accepts(repository):
    assert load(github_repository=repository).github_repository == repository


@pytest.mark.parametrize("repository", ["airflow-on-eks", "org/", "/repo", "org/repo/extra", "-org/repo",
                                        "org-/repo", "my--org/repo", "org/re po", "org/..", "org/.",
                                        "o" * 40 + "/repo", "org/" + "r" * 101, "https://github.com/org/repo"])
def test_malformed_github_repository_names_the_setting_value_and_rule(repository):
    found = problems(github_repository=repository)
    assert found == [f"github_repository: {repository!r} is not allowed; use owner/name as GitHub spells it, "
                     "such as your-org/airflow-on-eks (owner: up to 39 letters, digits and single hyphens; "
                     "name: up to 100 letters, digits, '.', '_' and '-')"]


@pytest.mark.parametrize("bucket", ["ab", "Tfstate", "tf_state", "-tfstate", "tfstate-", "tf..state", "tf.-state",
                                    "tf-.state", "192.168.5.4", "xn--tfstate", "sthree-tfstate", "tfstate-s3alias",
                                    "tfstate--ol-s3", "tfstate.mrap", "tfstate--x-s3", "t" * 64])
def test_state_bucket_names_s3_refuses(bucket):
    found = problems(state_bucket=bucket)
    assert len(found) == 1 and found[0].startswith(f"state_bucket: {bucket!r} is not allowed; use an S3 bucket name")


@pytest.mark.parametrize("bucket", ["abc", "tfstate-airflow-123456789012", "my.state.bucket", "t" * 63])
def test_state_bucket_names_s3_accepts(bucket):
    assert load(state_bucket=bucket).state_bucket == bucket
