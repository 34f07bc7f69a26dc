"""The rules of the settings, and the words of their problems: each setting's own rules
(patterns, bounds, validators of its type) and the rules between settings.

A rule's problem names the setting, the value and what is allowed; `rule` ids let tests
check that every rule has a case (tests/test_settings.py). `settings.py` puts them on the model.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone
from typing import Annotated, Any, Callable

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from airflow_platform.airflow_identity import AIRFLOW_DB_ROLE
from airflow_platform.boundary_fit import outside, shape_problem
from airflow_platform.airflow_image import OFFICIAL_REPOSITORY, team_repository_name
from airflow_platform.cluster_access import ci_role_names, ci_roles_have_entries
from airflow_platform.instance_architecture import is_graviton
from airflow_platform.profiles import PROFILES
from airflow_platform.ui_access_rules import UI_BETWEEN_RULES, UI_RULE_IDS
from airflow_platform.versions import CLUSTER_AUTOSCALER_TAGS, cluster_autoscaler_tag

# --- the rules on one value ---------------------------------------------------------------

REGION_RE = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$"
NAME_RE = r"^[a-z](?!.*--)[a-z0-9-]{0,18}[a-z0-9]$"
K8S_NAME_RE = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
PG_IDENT_RE = r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$"
SEMVER_RE = r"^\d+\.\d+\.\d+$"
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Names S3 refuses beyond the characters: an IP address, reserved prefixes and suffixes, `..`, `.-`, `-.`.
BUCKET_RESERVED_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$|^(xn--|sthree-|amzn-s3-demo-)|(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$"
                                r"|\.\.|\.-|-\.")
# GitHub: owner 1-39 letters, digits, single inner hyphens; repository 1-100 of letters, digits, . _ -
GITHUB_REPOSITORY_RE = r"^(?=[^/]{1,39}/)[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$"
PRINCIPAL_RE = r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$"
ACM_RE = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$"
# An address SNS can mail: local@domain.tld, no spaces, no display name.
EMAIL_RE = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
GIT_URL_RE = r"^(https://[^\s@]+|ssh://[^\s]+|git@[\w.-]+:[^\s]+)$"
RELATIVE_PATH_RE = r"^(?!(.*/)?\.\.(/|$))[\w.-]+(/[\w.-]+)*$"  # no `..` segment
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                             2192, 2557, 2922, 3288, 3653)
RESERVED_DB_USERS = {"postgres", "rdsadmin", "rdsrepladmin", "rds_superuser", "admin", "public"}
DB_USERNAME_ALLOWED = (f"use a letter then letters, digits or underscores, not one of "
                       f"{', '.join(sorted(RESERVED_DB_USERS))}")

# Rules written as code (the rest are field constraints, named after their setting): their ids.
CUSTOM_RULES = (
    "profile", "availability_zones_unique", "cidr_notation", "cidr_ipv6", "vpc_prefix", "subnet_prefix",
    "flow_log_retention_days", "component_log_retention_days", "eks_version_autoscaler",
    "node_instance_types_architecture", "db_instance_class_memory", "db_username_reserved",
    "db_username_airflow_role", "state_bucket", "airflow_task_policy_statements_shape", "db_restore_time_not_past",
    # between settings (the model validator)
    "availability_zones_region", "subnet_count", "subnet_outside_vpc", "subnet_overlap", "vpc_overlap",
    "node_desired_below_min", "node_desired_above_max", "node_max_below_min", "celery_worker_max_below_min",
    "db_max_storage_below_allocated", "git_sync_ssh_secret_missing", "git_sync_ssh_secret_with_https",
    "git_sync_credentials_secret_with_ssh", "cluster_admin_is_ci_role", "state_bucket_exists_without_bucket",
    "airflow_task_policy_statements_boundary",
    *UI_RULE_IDS,
    "airflow_image_digest_missing", "airflow_image_repository_not_the_platforms",
)


def not_allowed(setting: str, value: Any, allowed: str) -> str:
    return f"{setting}: {value!r} is not allowed; {allowed}"


def _refuse(rule: str, value: Any, allowed: str) -> PydanticCustomError:
    assert rule in CUSTOM_RULES, rule
    return PydanticCustomError("not_allowed", "{allowed}", {"rule": rule, "value": value, "allowed": allowed})


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic would read true as 1
        raise PydanticCustomError("int_type", "not a whole number")
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)  # so that a bound's problem names the number
    return value


def _cidr(value: Any, *, ipv6_ok: bool = False) -> Any:
    """A network in CIDR notation, as `ipaddress` reads it; our words for what is wrong with it."""
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value
    if not isinstance(value, str):  # pydantic would read 5 as 0.0.0.5/32
        raise PydanticCustomError("string_type", "not a string")
    value = value.strip()
    problem = cidr_problem(value, ipv6_ok=ipv6_ok)
    if problem:
        raise _refuse("cidr_ipv6" if problem == "use an IPv4 network" else "cidr_notation", value, problem)
    return ipaddress.ip_network(value)


def _prefix_within(rule: str, what: str) -> Any:
    def check(value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not 16 <= value.prefixlen <= 28:
            raise _refuse(rule, str(value), f"AWS {what} take a prefix from /16 to /28")
        return value
    return AfterValidator(check)


def a_profile(value: str) -> str:
    if value not in PROFILES:
        raise _refuse("profile", value, f"use one of {', '.join(PROFILES)}")
    return value


def each_once(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(value)) != len(value):
        raise _refuse("availability_zones_unique", list(value), "each availability zone may appear once")
    return value


def cloudwatch_retention(rule: str) -> AfterValidator:
    """A retention CloudWatch Logs accepts (PutRetentionPolicy's `retentionInDays` values), for the setting `rule`."""
    def check(value: int) -> int:
        if value not in CLOUDWATCH_RETENTION_DAYS:
            raise _refuse(rule, value, f"use a CloudWatch retention: {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}")
        return value
    return AfterValidator(check)


def known_to_the_autoscaler(value: str) -> str:
    if cluster_autoscaler_tag(value) is None:
        raise _refuse("eks_version_autoscaler", value, "use a version with a known Cluster Autoscaler release: "
                      + ", ".join(CLUSTER_AUTOSCALER_TAGS))
    return value


def known_db_memory(value: str) -> str:
    """The connections alarm derives max_connections from the class's memory (rds_max_connections)."""
    from airflow_platform.rds_max_connections import class_memory_gib

    try:
        class_memory_gib(value)
    except ValueError:
        raise _refuse("db_instance_class_memory", value, "use a db.t*, db.m* or db.r* class such as db.t4g.medium "
                      "or db.m7g.large (the connections alarm derives max_connections from its memory)") from None
    return value


def one_architecture(value: tuple[str, ...]) -> tuple[str, ...]:
    if len({is_graviton(t) for t in value}) > 1:
        raise _refuse("node_instance_types_architecture", list(value),
                      "use instance types of one architecture: all Graviton (arm64) or all x86_64")
    return value


def master_user_name(value: str) -> str:
    if value.lower() in RESERVED_DB_USERS:
        raise _refuse("db_username_reserved", value, DB_USERNAME_ALLOWED)
    if value.lower() == AIRFLOW_DB_ROLE:
        raise _refuse("db_username_airflow_role", value, f"the master user must not be named like Airflow's own "
                      f"database role {AIRFLOW_DB_ROLE!r} (the role bootstrap creates it); choose another name")
    return value


# `db_restore_time`: empty (no restore), `latest`, or a UTC time to the second.
DB_RESTORE_TIME_RE = r"^$|^latest$|^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
DB_RESTORE_TIME_ALLOWED = ("leave it empty (no restore), or use latest, or a UTC time such as 2026-12-04T22:15:00Z "
                           "within the backup retention")


def a_past_restore_time(value: str) -> str:
    """A calendar time that has passed: RDS restores only between the instance's earliest and
    latest restorable times (RestoreDBInstanceToPointInTime, RestoreTime)."""
    if value in ("", "latest"):
        return value
    try:
        when = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise _refuse("db_restore_time_not_past", value, DB_RESTORE_TIME_ALLOWED + " (not a calendar time)") from None
    if when > datetime.now(timezone.utc):
        raise _refuse("db_restore_time_not_past", value, DB_RESTORE_TIME_ALLOWED + " (it is in the future)")
    return value


def s3_bucket_name(value: str) -> str:
    if value and (not BUCKET_RE.match(value) or BUCKET_RESERVED_RE.search(value)):
        raise _refuse("state_bucket", value, "use an S3 bucket name: 3-63 lowercase letters, digits, dots, hyphens, "
                      "starting and ending with a letter or digit, no '..', '.-' or '-.', not an IP address, "
                      "no reserved prefix (xn--, sthree-) or suffix (-s3alias, --ol-s3, .mrap, --x-s3)")
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
# Networks are `ipaddress` values (`str()` gives the CIDR the stacks write).
Ipv4Cidr = Annotated[ipaddress.IPv4Network, BeforeValidator(_cidr)]
AnyCidr = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, BeforeValidator(lambda v: _cidr(v, ipv6_ok=True))]
VpcCidr = Annotated[Ipv4Cidr, _prefix_within("vpc_prefix", "VPCs")]
SubnetCidrs = tuple[Annotated[Ipv4Cidr, _prefix_within("subnet_prefix", "subnets")], ...]


# --- the rules between settings ----------------------------------------------------------

def rules_between(s: Any) -> list[tuple[str, str]]:
    """The rules between settings, as (rule, problem) pairs. `s` may lack the settings that are
    not valid on their own (load_settings' partial check): a rule that reads one is skipped."""
    p: list[tuple[str, str]] = []

    def bad(rule: str, setting: str, value: Any, allowed: str) -> None:
        assert rule in CUSTOM_RULES, rule
        p.append((rule, not_allowed(setting, value, allowed)))

    for rule in BETWEEN_RULES:
        before = len(p)
        try:
            rule(s, bad)
        except AttributeError:  # it reads a setting that is already wrong on its own
            del p[before:]
    return p


Bad = Callable[[str, str, Any, str], None]


def _zones_of_the_region(s: Any, bad: Bad) -> None:
    for az in s.availability_zones:
        if not re.fullmatch(re.escape(s.region) + r"[a-z]", az):
            bad("availability_zones_region", "availability_zones", az,
                f"use zones of region {s.region}, such as {s.region}a")


def _subnets_of(vpc_setting: str, groups: tuple[str, ...]) -> Callable[[Any, Bad], None]:
    def rule(s: Any, bad: Bad) -> None:
        az_count = len(s.availability_zones)
        vpc = getattr(s, vpc_setting)
        seen: list[tuple[str, ipaddress.IPv4Network]] = []
        for group in groups:
            nets = getattr(s, group)
            if len(nets) != az_count:
                bad("subnet_count", group, [str(n) for n in nets], f"give one subnet per availability zone ({az_count})")
            for net in nets:
                if not net.subnet_of(vpc):
                    bad("subnet_outside_vpc", group, str(net), f"it lies outside {vpc_setting} {vpc}")
                for other_group, other in seen:
                    if net.overlaps(other):
                        bad("subnet_overlap", group, str(net), f"it overlaps {other} of {other_group}")
                seen.append((group, net))
    return rule


def _vpcs_disjoint(s: Any, bad: Bad) -> None:
    if s.eks_vpc_cidr.overlaps(s.rds_vpc_cidr):
        bad("vpc_overlap", "rds_vpc_cidr", str(s.rds_vpc_cidr), f"it overlaps eks_vpc_cidr {str(s.eks_vpc_cidr)!r}; "
            "peered VPCs need disjoint CIDRs or the routes between them cannot work")


def _node_desired_from_min(s: Any, bad: Bad) -> None:
    if s.node_desired_size < s.node_min_size:
        bad("node_desired_below_min", "node_desired_size", s.node_desired_size,
            f"use at least node_min_size ({s.node_min_size})")


def _node_desired_to_max(s: Any, bad: Bad) -> None:
    if s.node_desired_size > s.node_max_size:
        bad("node_desired_above_max", "node_desired_size", s.node_desired_size,
            f"use at most node_max_size ({s.node_max_size})")


def _node_max_from_min(s: Any, bad: Bad) -> None:
    if s.node_max_size < s.node_min_size:
        bad("node_max_below_min", "node_max_size", s.node_max_size, f"use at least node_min_size ({s.node_min_size})")


def _worker_bounds(s: Any, bad: Bad) -> None:
    if s.celery_worker_max_replicas < s.celery_worker_min_replicas:
        bad("celery_worker_max_below_min", "celery_worker_max_replicas", s.celery_worker_max_replicas,
            f"use at least celery_worker_min_replicas ({s.celery_worker_min_replicas})")


def _db_storage(s: Any, bad: Bad) -> None:
    if s.db_max_allocated_storage_gib < s.db_allocated_storage_gib:
        bad("db_max_storage_below_allocated", "db_max_allocated_storage_gib", s.db_max_allocated_storage_gib,
            f"use at least db_allocated_storage_gib ({s.db_allocated_storage_gib})")


def _git_sync_secrets(s: Any, bad: Bad) -> None:
    https = s.git_sync_repo.startswith("https://")
    if not https and not s.git_sync_ssh_secret:
        bad("git_sync_ssh_secret_missing", "git_sync_ssh_secret", s.git_sync_ssh_secret,
            "name the Secret with the SSH key when git_sync_repo is an ssh URL")
    elif https and s.git_sync_ssh_secret:
        bad("git_sync_ssh_secret_with_https", "git_sync_ssh_secret", s.git_sync_ssh_secret,
            "leave it empty for an https git_sync_repo (use git_sync_credentials_secret for a token), "
            "or make git_sync_repo an ssh URL")
    if s.git_sync_credentials_secret and not https:
        bad("git_sync_credentials_secret_with_ssh", "git_sync_credentials_secret", s.git_sync_credentials_secret,
            "a username/token Secret works over https only: leave it empty for an ssh git_sync_repo")


def _admins_are_not_ci_roles(s: Any, bad: Bad) -> None:
    if not ci_roles_have_entries(s.state_bucket):
        return
    roles = ci_role_names(f"{s.name}-{s.profile}")  # Settings.prefix: `s` may be a plain namespace here
    for arn in s.cluster_admin_principal_arns:
        if re.search(rf":role/(.*/)?({re.escape(roles.plan)}|{re.escape(roles.deploy)})$", arn):
            bad("cluster_admin_is_ci_role", "cluster_admin_principal_arns", arn,
                "the CI roles get their own access entries, and EKS allows one entry per principal: "
                "list only the roles of people and tools")


def _existing_bucket_is_named(s: Any, bad: Bad) -> None:
    # The bootstrap stack looks the bucket up by name: without one there is nothing to find.
    if s.state_bucket_exists and not s.state_bucket:
        bad("state_bucket_exists_without_bucket", "state_bucket_exists", s.state_bucket_exists,
            "set state_bucket to the bucket another environment's bootstrap created, "
            "or leave state_bucket_exists false so that this bootstrap creates one")


def policy_statements(value: tuple[dict, ...]) -> tuple[dict, ...]:
    for n, statement in enumerate(value, start=1):
        problem = shape_problem(statement)
        if problem:
            raise _refuse("airflow_task_policy_statements_shape", statement,
                          f"statement {n} {problem} (an IAM policy statement, docs/pipelines.md)")
    return value


def _task_statements_inside_the_boundary(s: Any, bad: Bad) -> None:
    # The boundary of this platform (ci_policies.boundary_policy), its account unknown yet: `*`.
    from airflow_platform.ci_policies import CiTarget, boundary_policy

    prefix = f"{s.name}-{s.profile}"  # Settings.prefix: `s` may be a plain namespace here
    partition = "aws-cn" if s.region.startswith("cn-") else "aws-us-gov" if s.region.startswith("us-gov-") else "aws"
    boundary = boundary_policy(CiTarget(
        partition=partition, account_id="*", region=s.region, name=s.name, profile=s.profile, prefix=prefix,
        state_bucket="", state_key_prefix="", plan_role_name="", deploy_role_name="",
        boundary_name=f"{prefix}-permissions-boundary"))
    for n, statement in enumerate(s.airflow_task_policy_statements, start=1):
        cut = outside(statement, boundary)
        if cut:
            pairs = ", ".join(f"{action} on {resource}" for action, resource in cut[:3])
            bad("airflow_task_policy_statements_boundary", "airflow_task_policy_statements", statement,
                f"statement {n} grants {pairs}, which the permissions boundary {prefix}-permissions-boundary "
                f"does not allow (IAM would deny it at run time); allowed: S3 on buckets {prefix}-*, secrets "
                f"{prefix}/airflow/*, KMS keys tagged Project={s.name} and Environment={s.profile} (repeat "
                "that Condition), logs, EC2 and ECR reads: airflow_platform/ci_policies.py boundary_policy")


def _team_image_by_digest(s: Any, bad: Bad) -> None:
    # The team's repository has immutable tags of CI's making, never `airflow_image_tag` itself:
    # an image there is named by its digest.
    if s.airflow_image_repository != OFFICIAL_REPOSITORY and not s.airflow_image_digest:
        bad("airflow_image_digest_missing", "airflow_image_digest", s.airflow_image_digest,
            f"give the digest (sha256:...) CI pushed to {s.airflow_image_repository}, "
            f"or set airflow_image_repository to {OFFICIAL_REPOSITORY}")


def _team_image_in_the_platforms_repository(s: Any, bad: Bad) -> None:
    # The infra stack's repository, in this region: the one CI pushes to and the nodes pull from.
    if s.airflow_image_repository == OFFICIAL_REPOSITORY:
        return
    host, _, name = s.airflow_image_repository.partition("/")
    expected = team_repository_name(f"{s.name}-{s.profile}")
    if name != expected or f".dkr.ecr.{s.region}." not in host:
        bad("airflow_image_repository_not_the_platforms", "airflow_image_repository", s.airflow_image_repository,
            f"use the infra stack's repository <account>.dkr.ecr.{s.region}.amazonaws.com/{expected} "
            f"(output airflow_image_repository_url), or {OFFICIAL_REPOSITORY}")


BETWEEN_RULES: tuple[Callable[[Any, Bad], None], ...] = (
    _zones_of_the_region,
    _subnets_of("eks_vpc_cidr", ("eks_public_subnet_cidrs", "eks_private_subnet_cidrs")),
    _subnets_of("rds_vpc_cidr", ("rds_subnet_cidrs",)),
    _vpcs_disjoint, _node_desired_from_min, _node_desired_to_max, _node_max_from_min, _worker_bounds, _db_storage, _git_sync_secrets,
    _admins_are_not_ci_roles, _existing_bucket_is_named, _task_statements_inside_the_boundary, *UI_BETWEEN_RULES,
    _team_image_by_digest, _team_image_in_the_platforms_repository,
)


# --- helpers of the rules, for callers too ---------------------------------------------------

def cidrs(networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> list[str]:
    """Networks as the CIDR strings Terraform takes."""
    return [str(net) for net in networks]


def cidr_problem(cidr: str, *, ipv6_ok: bool = False) -> str | None:
    """Why `cidr` is not a usable network in CIDR notation, or None."""
    if "/" not in cidr:
        return "use CIDR notation with a prefix length, such as 10.0.0.0/16"
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as err:
        return f"use a network in CIDR notation such as 10.0.0.0/16 ({err})"
    if net.version == 6 and not ipv6_ok:
        return "use an IPv4 network"
    return None
