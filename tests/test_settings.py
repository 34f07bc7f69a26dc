"""Settings: defaults that synthesize, environment overrides, and one clear error per bad input."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st
from pydantic import ValidationError

from airflow_platform.instance_architecture import is_graviton
from airflow_platform.setting_rules import cidr_problem, cidrs
from airflow_platform.setting_sources import read_context
from defaults import checked_settings
from airflow_platform.settings import SETTING_NAMES, SettingsError, load_settings, rule_ids, setting_docs
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


def test_every_setting_is_in_cdktf_json_and_documented_in_docs_settings():
    readme = (REPO / "docs" / "settings.md").read_text()
    assert set(read_context()) | set(PROFILE_SIZED_SETTINGS) == set(SETTING_NAMES)
    for name, doc in setting_docs().items():
        assert f"`{name}`" in readme, f"docs/settings.md does not document {name}"
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


def test_rules_between_settings_are_reported_with_the_problems_of_single_settings():
    """One round of fixes: a wrong name does not hide the overlap or the node sizes."""
    found = problems(name="X", rds_vpc_cidr="10.0.0.0/16", rds_subnet_cidrs="10.0.200.0/24,10.0.201.0/24",
                     node_min_size="3", node_desired_size="2", db_instance_class="t4g.medium")
    assert {p.split(":")[0] for p in found} == {"name", "rds_vpc_cidr", "node_desired_size", "db_instance_class"}
    # a rule that reads a setting already wrong on its own says nothing more about it
    found = problems(node_min_size="x", node_desired_size="2", node_max_size="1")
    assert [p.split(":")[0] for p in found] == ["node_min_size", "node_desired_size"]


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


# --- one case per rule: the setting, the value and what is allowed ---------------------------

SSH_REPO = "git@github.com:your-org/airflow-on-eks.git"


def case(rule: str, setting: str, allowed: str, context: dict | None = None, **env: str):
    """`env` as AIRFLOW_PLATFORM_* variables, `context` over cdktf.json's (None drops a key)."""
    return pytest.param(rule, setting, allowed, context or {}, env, id=rule)


RULE_CASES = [
    # one setting, field constraints
    case("region", "region", "use an AWS region code such as us-east-1", region="useast1"),
    case("name", "name", "use 2-20 lowercase letters, digits and single hyphens", name="Airflow"),
    case("availability_zones", "availability_zones", "give at least two availability zones",
         availability_zones="us-east-1a", eks_public_subnet_cidrs="10.0.0.0/22",
         eks_private_subnet_cidrs="10.0.32.0/19", rds_subnet_cidrs="10.1.0.0/24"),
    case("eks_version", "eks_version", "use a Kubernetes minor version such as 1.35 (no patch, no leading v)",
         eks_version="1.35.1"),
    case("cluster_endpoint_public_cidrs", "cluster_endpoint_public_cidrs", "give at least one CIDR",
         cluster_endpoint_public_cidrs=""),
    case("load_balancer_source_cidrs", "load_balancer_source_cidrs", "give at least one CIDR",
         load_balancer_source_cidrs=" , "),
    case("cluster_admin_principal_arns_item", "cluster_admin_principal_arns", "use IAM role or user ARNs",
         cluster_admin_principal_arns="arn:aws:iam::123456789012:role/admin,arn:aws:iam::123:role/short-account"),
    case("node_instance_types", "node_instance_types", "give at least one EC2 instance type", node_instance_types=""),
    case("node_instance_types_item", "node_instance_types", "use EC2 instance types such as m6i.large",
         node_instance_types="m6i"),
    case("node_min_size", "node_min_size", "use 1 or more (Airflow needs a node to run on)",
         node_min_size="0", node_desired_size="0"),
    case("node_disk_size_gib", "node_disk_size_gib", "use 20 to 16384 GiB", node_disk_size_gib="10"),
    case("db_engine_version", "db_engine_version", "use a PostgreSQL major version from 13 to 17",
         db_engine_version="16.4"),
    case("db_instance_class", "db_instance_class", "use an RDS instance class such as db.t4g.medium",
         db_instance_class="t4g.medium"),
    case("db_allocated_storage_gib", "db_allocated_storage_gib", "use 20 to 65536 GiB",
         db_allocated_storage_gib="70000", db_max_allocated_storage_gib="80000"),
    case("db_backup_retention_days", "db_backup_retention_days", "use 7 to 35 days", db_backup_retention_days="36"),
    case("db_name", "db_name", "use a letter then up to 62 letters, digits or underscores", db_name="airflow-db"),
    case("db_restore_time", "db_restore_time", "leave it empty (no restore), or use latest, or a UTC time",
         db_restore_time="2026-12-04 22:15"),
    case("db_restore_time_not_past", "db_restore_time", "(it is in the future)", db_restore_time="2999-01-01T00:00:00Z"),
    case("db_username", "db_username", "use a letter then letters, digits or underscores", db_username="1admin"),
    case("airflow_namespace", "airflow_namespace", "use a Kubernetes name", airflow_namespace="Airflow"),
    case("chart_version", "chart_version", "use a chart version such as 1.21.0", chart_version="1.21"),
    case("airflow_image_tag", "airflow_image_tag", "use an image tag such as 3.3.2", airflow_image_tag="-3.3.2"),
    case("airflow_image_repository", "airflow_image_repository", "use apache/airflow, or an ECR repository URI",
         airflow_image_repository="docker.io/apache/airflow"),
    case("airflow_image_digest", "airflow_image_digest", "use sha256: and 64 lowercase hex digits",
         airflow_image_digest="sha256:ABC"),
    case("git_sync_repo", "git_sync_repo", "use an https:// URL (no credentials in it) or an ssh URL",
         git_sync_repo="https://user:token@github.com/your-org/airflow-on-eks.git"),  # pragma: allowlist secret
    case("git_sync_branch", "git_sync_branch", "use a git branch name", git_sync_branch="feature..x"),
    case("git_sync_subpath", "git_sync_subpath", "use a relative folder of the repository", git_sync_subpath="../dags"),
    case("git_sync_ssh_secret", "git_sync_ssh_secret", "use a Kubernetes Secret name, or leave it empty",
         git_sync_repo=SSH_REPO, git_sync_ssh_secret="Git_Key"),  # pragma: allowlist secret
    case("git_sync_credentials_secret", "git_sync_credentials_secret",
         "use a Kubernetes Secret name, or leave it empty",
         git_sync_credentials_secret="token!"),  # pragma: allowlist secret
    case("celery_worker_min_replicas", "celery_worker_min_replicas", "use 1 or more (a queue needs a worker)",
         celery_worker_min_replicas="0"),
    case("celery_worker_max_replicas", "celery_worker_max_replicas", "use at most 100",
         celery_worker_max_replicas="101"),
    case("acm_certificate_arn", "acm_certificate_arn", "use an ACM certificate ARN, or leave it empty for HTTP",
         acm_certificate_arn="arn:aws:iam::123456789012:server-certificate/x"),
    case("state_region", "state_region", "use an AWS region code, or leave it empty", state_region="EU"),
    case("state_key_prefix", "state_key_prefix", "use a path of letters, digits, dots, hyphens and slashes",
         state_key_prefix="/absolute"),
    case("github_repository", "github_repository", "use owner/name as GitHub spells it", github_repository="org"),
    # one setting, validators
    case("profile", "profile", "use one of dev, prod", profile="staging"),
    case("availability_zones_unique", "availability_zones", "each availability zone may appear once",
         availability_zones="us-east-1a,us-east-1a"),
    case("cidr_notation", "eks_vpc_cidr", "use CIDR notation with a prefix length", eks_vpc_cidr="10.0.0.0"),
    case("cidr_ipv6", "rds_subnet_cidrs", "use an IPv4 network", rds_subnet_cidrs="fd00::/64,10.1.1.0/24"),
    case("vpc_prefix", "eks_vpc_cidr", "AWS VPCs take a prefix from /16 to /28", eks_vpc_cidr="10.0.0.0/12"),
    case("subnet_prefix", "rds_subnet_cidrs", "AWS subnets take a prefix from /16 to /28",
         rds_subnet_cidrs="10.1.0.0/29,10.1.0.8/29"),
    case("flow_log_retention_days", "flow_log_retention_days", "use a CloudWatch retention: 1, 3, 5, 7",
         flow_log_retention_days="100"),
    case("component_log_retention_days", "component_log_retention_days", "use a CloudWatch retention: 1, 3, 5, 7",
         component_log_retention_days="10"),
    case("eks_version_autoscaler", "eks_version", "use a version with a known Cluster Autoscaler release",
         eks_version="1.20"),
    case("alert_email_addresses_item", "alert_email_addresses", "use email addresses such as oncall@example.com",
         alert_email_addresses="oncall@example.com,not an address"),
    case("db_instance_class_memory", "db_instance_class", "the connections alarm derives max_connections from its "
         "memory", db_instance_class="db.x2iedn.large"),
    case("node_instance_types_architecture", "node_instance_types", "use instance types of one architecture",
         node_instance_types="m6i.large,m7g.large"),
    case("db_username_reserved", "db_username", "not one of admin, postgres, public", db_username="postgres"),
    case("db_username_airflow_role", "db_username", "must not be named like Airflow's own database role",
         db_username="Airflow"),
    case("state_bucket", "state_bucket", "use an S3 bucket name", state_bucket="Tf_State"),
    case("airflow_task_policy_statements_shape", "airflow_task_policy_statements",
         "statement 1 has NotResource: use only Sid, Effect, Action, Resource, Condition",
         context={"airflow_task_policy_statements": [{"Effect": "Allow", "Action": "s3:*", "NotResource": "x"}]}),
    # between settings
    case("availability_zones_region", "availability_zones", "use zones of region us-east-1, such as us-east-1a",
         availability_zones="eu-west-1a,eu-west-1b"),
    case("subnet_count", "rds_subnet_cidrs", "give one subnet per availability zone (2)",
         rds_subnet_cidrs="10.1.0.0/24"),
    case("subnet_outside_vpc", "eks_private_subnet_cidrs", "it lies outside eks_vpc_cidr 10.0.0.0/16",
         eks_private_subnet_cidrs="10.0.32.0/19,10.9.0.0/19"),
    case("subnet_overlap", "eks_private_subnet_cidrs", "it overlaps 10.0.32.0/24 of eks_public_subnet_cidrs",
         eks_public_subnet_cidrs="10.0.0.0/22,10.0.32.0/24"),
    case("vpc_overlap", "rds_vpc_cidr", "overlaps eks_vpc_cidr '10.0.0.0/16'; peered VPCs need disjoint CIDRs",
         rds_vpc_cidr="10.0.128.0/17", rds_subnet_cidrs="10.0.128.0/24,10.0.129.0/24"),
    case("node_desired_below_min", "node_desired_size", "use at least node_min_size (3)",
         node_min_size="3", node_desired_size="2"),
    case("node_desired_above_max", "node_desired_size", "use at most node_max_size (4)",
         node_desired_size="5", node_max_size="4"),
    case("node_max_below_min", "node_max_size", "use at least node_min_size (3)",
         node_min_size="3", node_desired_size="3", node_max_size="2"),
    case("celery_worker_max_below_min", "celery_worker_max_replicas", "use at least celery_worker_min_replicas (3)",
         celery_worker_min_replicas="3", celery_worker_max_replicas="2"),
    case("db_max_storage_below_allocated", "db_max_allocated_storage_gib",
         "use at least db_allocated_storage_gib (200)",
         db_allocated_storage_gib="200", db_max_allocated_storage_gib="100"),
    case("git_sync_ssh_secret_missing", "git_sync_ssh_secret", "name the Secret with the SSH key",
         git_sync_repo=SSH_REPO),
    case("git_sync_ssh_secret_with_https", "git_sync_ssh_secret", "leave it empty for an https git_sync_repo",
         git_sync_ssh_secret="git-key"),  # pragma: allowlist secret
    case("git_sync_credentials_secret_with_ssh", "git_sync_credentials_secret", "works over https only",
         git_sync_repo=SSH_REPO, git_sync_ssh_secret="git-key",  # pragma: allowlist secret
         git_sync_credentials_secret="git-token"),  # pragma: allowlist secret
    case("cluster_admin_is_ci_role", "cluster_admin_principal_arns", "the CI roles get their own access entries",
         state_bucket="example-terraform-state",
         cluster_admin_principal_arns="arn:aws:iam::123456789012:role/github-airflow-dev-deploy"),
    case("state_bucket_exists_without_bucket", "state_bucket_exists", "set state_bucket to the bucket another "
         "environment's bootstrap created", state_bucket_exists="true"),
    case("airflow_task_policy_statements_boundary", "airflow_task_policy_statements",
         "statement 1 grants s3:GetObject on arn:aws:s3:::payments/*, which the permissions boundary "
         "airflow-dev-permissions-boundary does not allow",
         airflow_task_policy_statements='[{"Effect": "Allow", "Action": "s3:GetObject", '
                                        '"Resource": "arn:aws:s3:::payments/*"}]'),
    # who reaches the UI, and how they sign in (airflow_platform/ui_access_rules.py)
    case("ui_exposure", "ui_exposure", "use internal or internet-facing", ui_exposure="public"),
    case("oidc_issuer_url", "oidc_issuer_url", "use the provider's https issuer URL",
         oidc_issuer_url="http://login.example.com", oidc_client_id="airflow"),
    case("oidc_client_id", "oidc_client_id", "use the client id as the provider shows it",
         oidc_issuer_url="https://login.example.com", oidc_client_id="{{ .Values }}"),
    case("oidc_groups_claim", "oidc_groups_claim", "use a claim name such as groups", oidc_groups_claim="my groups"),
    case("oidc_role_mappings_item", "oidc_role_mappings", "use group=Role with Role one of Admin, Op, User, Viewer",
         oidc_issuer_url="https://login.example.com", oidc_client_id="airflow", oidc_role_mappings="admins=Root"),
    case("ui_internet_facing_without_tls", "ui_exposure", "an internet-facing UI needs acm_certificate_arn",
         ui_exposure="internet-facing"),
    case("allow_plain_http_ui_in_prod", "allow_plain_http_ui", "allowed in dev only, not in prod",
         profile="prod", ui_exposure="internet-facing", allow_plain_http_ui="true",
         load_balancer_source_cidrs="198.51.100.0/24"),
    case("allow_plain_http_ui_open_to_everyone", "load_balancer_source_cidrs", "never everyone",
         ui_exposure="internet-facing", allow_plain_http_ui="true", load_balancer_source_cidrs="198.51.100.0/24,::/0"),
    case("oidc_client_id_missing", "oidc_client_id", "set the client id", oidc_issuer_url="https://login.example.com"),
    case("oidc_issuer_url_missing", "oidc_issuer_url", "set the identity provider's issuer",
         oidc_role_mappings="admins=Admin"),
    case("airflow_image_digest_missing", "airflow_image_digest", "give the digest (sha256:...) CI pushed to",
         airflow_image_repository="123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow-dev/airflow"),
    case("airflow_image_repository_not_the_platforms", "airflow_image_repository",
         "use the infra stack's repository <account>.dkr.ecr.us-east-1.amazonaws.com/airflow-dev/airflow",
         airflow_image_repository="123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow-prod/airflow", airflow_image_digest="sha256:abababababababababababababababababababababababababababababababab"),
    # the input itself
    case("unknown_context", "nodes_max", "unknown setting in cdktf.json context", context={"nodes_max": 3}),
    case("unknown_env", "AIRFLOW_PLATFORM_NODE_MINSIZE", "unknown setting (environment variable)", node_minsize="1"),
    case("missing", "region", "missing from cdktf.json context", context={"region": None}),
    case("type_int", "node_min_size", "'five' (from AIRFLOW_PLATFORM_NODE_MIN_SIZE) is not a whole number",
         node_min_size="five"),
    case("type_bool", "rds_subnets_public", "'maybe' (from AIRFLOW_PLATFORM_RDS_SUBNETS_PUBLIC) is not true or false",
         rds_subnets_public="maybe"),
    case("type_list", "availability_zones",
         "'us-east-1a,us-east-1b' (from availability_zones) is not a list of strings",
         context={"availability_zones": "us-east-1a,us-east-1b"}),
    case("type_str", "db_engine_version", "16 (from db_engine_version) is not a string",
         context={"db_engine_version": 16}),
    case("capacity", "node_min_size", "1 is too small for 1 worker(s)", node_min_size="1"),
]


@pytest.mark.parametrize("rule, setting, allowed, context, env", RULE_CASES)
def test_each_rule_names_the_setting_the_value_and_what_is_allowed(rule, setting, allowed, context, env):
    ctx = {k: v for k, v in {**read_context(), **context}.items() if v is not None}
    with pytest.raises(SettingsError) as err:
        checked_settings(ctx, **env)  # the whole pipeline: the capacity check is preflight's
    found = dict(zip(err.value.rules, err.value.problems))
    assert rule in found, err.value.problems
    assert found[rule].startswith(f"{setting}: ") and allowed in found[rule], found[rule]
    for problem in err.value.problems:  # our words only, one line each
        assert "Input should" not in problem and "validation error" not in problem and "\n" not in problem


def test_every_rule_has_a_case():
    assert sorted(p.values[0] for p in RULE_CASES) == sorted(rule_ids())


@pytest.mark.parametrize("overrides, expected", [
    ({"node_min_size": True}, "node_min_size: True (from node_min_size) is not a whole number"),
    ({"node_disk_size_gib": 50.5}, "node_disk_size_gib: 50.5 (from node_disk_size_gib) is not a whole number"),
    ({"rds_subnets_public": "maybe"}, "rds_subnets_public: 'maybe' (from rds_subnets_public) is not true or false"),
    ({"node_instance_types": ["m6i.large", 5]}, "node_instance_types: ['m6i.large', 5] (from node_instance_types) "
                                                "is not a list of strings"),
    ({"eks_vpc_cidr": ["10.0.0.0/16"]}, "eks_vpc_cidr: ['10.0.0.0/16'] (from eks_vpc_cidr) is not a string"),
    # pydantic alone would read the number 5 as the network 0.0.0.5/32
    ({"rds_vpc_cidr": 5}, "rds_vpc_cidr: 5 (from rds_vpc_cidr) is not a string"),
    ({"rds_subnet_cidrs": [5, "10.1.1.0/24"]}, "rds_subnet_cidrs: [5, '10.1.1.0/24'] (from rds_subnet_cidrs) "
                                               "is not a list of strings"),
])
def test_bad_types_in_cdktf_json_are_named_once(overrides, expected):
    with pytest.raises(SettingsError) as err:
        load_settings(context={**read_context(), **overrides}, environ={})
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith(expected)


def test_environment_lists_are_comma_separated_and_may_be_empty():
    s = load(cluster_admin_principal_arns=" arn:aws:iam::123456789012:role/a , arn:aws:iam::123456789012:user/b ,")
    assert s.cluster_admin_principal_arns == ("arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:user/b")
    assert load(cluster_admin_principal_arns="").cluster_admin_principal_arns == ()


def test_networks_are_ipaddress_values_and_written_as_cidr_strings():
    s = load(load_balancer_source_cidrs="2001:db8::/32, 10.0.0.0/8")
    assert s.eks_vpc_cidr == ipaddress.IPv4Network("10.0.0.0/16")
    assert s.load_balancer_source_cidrs == (ipaddress.IPv6Network("2001:db8::/32"), ipaddress.IPv4Network("10.0.0.0/8"))
    assert cidrs(s.load_balancer_source_cidrs) == ["2001:db8::/32", "10.0.0.0/8"]


def test_settings_are_frozen():
    s = load()
    with pytest.raises(ValidationError, match="frozen"):
        s.name = "other"  # type: ignore[misc]


def test_the_ui_is_internal_by_default_in_both_profiles():
    for profile in PROFILES:
        assert load(profile=profile).ui_exposure == "internal"


@pytest.mark.parametrize("overrides", [
    {"ui_exposure": "internet-facing", "acm_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-1"},
    {"ui_exposure": "internet-facing", "allow_plain_http_ui": "true", "load_balancer_source_cidrs": "198.51.100.0/24"},
    {"oidc_issuer_url": "https://login.example.com/oauth2/default", "oidc_client_id": "0oa1b2c3",
     "oidc_groups_claim": "cognito:groups", "oidc_role_mappings": "airflow-admins=Admin,data-eng=User"},
])
def test_the_ui_choices_that_are_allowed(overrides):
    load(**overrides)
