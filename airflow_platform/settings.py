"""The one typed, validated settings object: the only place that reads input.

`Settings` is a frozen pydantic-settings model. Its sources, highest priority first:
environment variables `AIRFLOW_PLATFORM_<SETTING>` (lists comma-separated), the `context`
of `cdktf.json` (lists as JSON lists), and for the settings a profile sizes (node sizes,
worker bounds) the profile table (`profiles.py`). Unknown keys in either source are refused.

Rules on one setting are field constraints (`Field(ge=, le=, pattern=)`, validators of
the field's type); rules between settings are a `model_validator`, which pydantic runs only
when every field is valid, so on a field error `load_settings()` also runs them over the
settings that are sound on their own: every problem in one round. The capacity check runs
last, once everything else holds. `load_settings()` turns pydantic's errors into
`SettingsError`: one line per problem, each naming the setting, the value and what is allowed.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Callable, Mapping, get_origin

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from airflow_platform.airflow_identity import AIRFLOW_DB_ROLE
from airflow_platform.profiles import PROFILE_SIZED_SETTINGS, PROFILES, Profile
from airflow_platform.versions import CLUSTER_AUTOSCALER_TAGS, cluster_autoscaler_tag, eks_support_warning

ENV_PREFIX = "AIRFLOW_PLATFORM_"
CDKTF_JSON = Path(__file__).resolve().parent.parent / "cdktf.json"


class SettingsError(ValueError):
    """Bad input: the message names every offending setting and what is allowed.

    `problems` holds one line per problem; `rules` the id of the rule behind each (see `rule_ids()`)."""

    def __init__(self, problems: list[str], rules: list[str] | None = None):
        self.problems = problems
        self.rules = rules if rules is not None else ["" for _ in problems]
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))


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
    "flow_log_retention_days", "eks_version_autoscaler", "node_instance_types_architecture",
    "db_username_reserved", "db_username_airflow_role", "state_bucket",
    # between settings (the model validator)
    "availability_zones_region", "subnet_count", "subnet_outside_vpc", "subnet_overlap", "vpc_overlap",
    "node_desired_below_min", "node_desired_above_max", "node_max_below_min", "celery_worker_max_below_min",
    "db_max_storage_below_allocated", "git_sync_ssh_secret_missing", "git_sync_ssh_secret_with_https",
    "git_sync_credentials_secret_with_ssh",
)
# Problems with the input itself rather than a value's rule.
INPUT_RULES = ("unknown_context", "unknown_env", "missing", "type_int", "type_bool", "type_list", "type_str",
               "capacity")


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


def _in_profiles(value: str) -> str:
    if value not in PROFILES:
        raise _refuse("profile", value, f"use one of {', '.join(PROFILES)}")
    return value


def _each_once(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(value)) != len(value):
        raise _refuse("availability_zones_unique", list(value), "each availability zone may appear once")
    return value


def _cloudwatch_retention(value: int) -> int:
    if value not in CLOUDWATCH_RETENTION_DAYS:
        raise _refuse("flow_log_retention_days", value,
                      f"use a CloudWatch retention: {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}")
    return value


def _autoscaler_known(value: str) -> str:
    if cluster_autoscaler_tag(value) is None:
        raise _refuse("eks_version_autoscaler", value, "use a version with a known Cluster Autoscaler release: "
                      + ", ".join(CLUSTER_AUTOSCALER_TAGS))
    return value


def _one_architecture(value: tuple[str, ...]) -> tuple[str, ...]:
    if len({is_graviton(t) for t in value}) > 1:
        raise _refuse("node_instance_types_architecture", list(value),
                      "use instance types of one architecture: all Graviton (arm64) or all x86_64")
    return value


def _db_username(value: str) -> str:
    if value.lower() in RESERVED_DB_USERS:
        raise _refuse("db_username_reserved", value, DB_USERNAME_ALLOWED)
    if value.lower() == AIRFLOW_DB_ROLE:
        raise _refuse("db_username_airflow_role", value, f"the master user must not be named like Airflow's own "
                      f"database role {AIRFLOW_DB_ROLE!r} (the role bootstrap creates it); choose another name")
    return value


def _bucket_name(value: str) -> str:
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


def setting(doc: str, *, allowed: str | None = None, item_allowed: str | None = None,
            item_pattern: str | None = None, **constraints: Any) -> Any:
    """A required setting (cdktf.json or the profile table gives every default). `allowed`
    says what the field's constraints accept, `item_allowed` what its items' accept."""
    extra = {"allowed": allowed, "item_allowed": item_allowed}
    return Field(description=doc, json_schema_extra={k: v for k, v in extra.items() if v} or None, **constraints)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, str_strip_whitespace=True, regex_engine="python-re",
    )

    profile: Annotated[str, AfterValidator(_in_profiles)] = setting(
        "dev or prod: switches NAT per AZ, multi-AZ DB, deletion protection, replicas")
    region: str = setting(
        "AWS region of both VPCs, the cluster and the database",
        pattern=REGION_RE, allowed="use an AWS region code such as us-east-1 or eu-west-2")
    name: str = setting(
        "base name of every resource; resources are named <name>-<profile>-...",
        pattern=NAME_RE, allowed="use 2-20 lowercase letters, digits and single hyphens, starting with a letter")
    availability_zones: Annotated[tuple[str, ...], AfterValidator(_each_once)] = setting(
        "at least two AZs of the region, one subnet of each kind per AZ",
        min_length=2, allowed="give at least two availability zones (EKS and RDS need two)")
    eks_vpc_cidr: VpcCidr = setting("CIDR of the EKS VPC")
    eks_public_subnet_cidrs: SubnetCidrs = setting("public subnets (load balancer, NAT), one per AZ")
    eks_private_subnet_cidrs: SubnetCidrs = setting("private subnets (nodes, pods), one per AZ")
    rds_vpc_cidr: VpcCidr = setting("CIDR of the RDS VPC; must not overlap the EKS VPC")
    rds_subnet_cidrs: SubnetCidrs = setting("subnets of the DB subnet group, one per AZ")
    rds_subnets_public: bool = setting(
        "place the DB subnet group in public subnets (the DB itself stays private)")
    flow_log_retention_days: Annotated[WholeNumber, AfterValidator(_cloudwatch_retention)] = setting(
        "retention of VPC flow logs and EKS control-plane logs")
    eks_version: Annotated[str, AfterValidator(_autoscaler_known)] = setting(
        "Kubernetes minor version of the EKS cluster (standard support only)",
        pattern=r"^1\.\d{2}$", allowed="use a Kubernetes minor version such as 1.35 (no patch, no leading v)")
    cluster_endpoint_public_cidrs: tuple[Ipv4Cidr, ...] = setting(
        "CIDRs allowed to reach the public EKS API endpoint",
        min_length=1, allowed="give at least one CIDR (0.0.0.0/0 for everyone)")
    cluster_admin_principal_arns: tuple[Annotated[str, Field(pattern=PRINCIPAL_RE)], ...] = setting(
        "IAM roles/users granted cluster admin by access entries",
        item_allowed="use IAM role or user ARNs (arn:aws:iam::123456789012:role/name)")
    node_instance_types: Annotated[
        tuple[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")], ...], AfterValidator(_one_architecture),
    ] = setting("EC2 instance types of the managed node group",
                min_length=1, allowed="give at least one EC2 instance type",
                item_allowed="use EC2 instance types such as m6i.large")
    node_min_size: WholeNumber = setting(
        "node group minimum size (>= 1)", ge=1, allowed="use 1 or more (Airflow needs a node to run on)")
    node_desired_size: WholeNumber = setting("node group desired size (min <= desired <= max)")
    node_max_size: WholeNumber = setting("node group maximum size")
    node_disk_size_gib: WholeNumber = setting(
        "encrypted gp3 root volume of each node, GiB", ge=20, le=16384, allowed="use 20 to 16384 GiB")
    db_engine_version: str = setting(
        "RDS PostgreSQL major version; RDS applies minor versions automatically",
        pattern=r"^1[3-7]$", allowed="use a PostgreSQL major version from 13 to 17, such as 16: RDS applies minor "
        "versions itself (a pinned minor stops being creatable once RDS deprecates it)")
    db_instance_class: str = setting(
        "RDS instance class",
        pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$", allowed="use an RDS instance class such as db.t4g.medium")
    db_allocated_storage_gib: WholeNumber = setting(
        "initial RDS storage, GiB", ge=20, le=65536, allowed="use 20 to 65536 GiB")
    db_max_allocated_storage_gib: WholeNumber = setting("RDS storage autoscaling ceiling, GiB")
    db_backup_retention_days: WholeNumber = setting(
        "automated backup retention, 7-35 days", ge=7, le=35, allowed="use 7 to 35 days")
    db_name: str = setting(
        "name of the Airflow metadata database",
        pattern=PG_IDENT_RE, allowed="use a letter then up to 62 letters, digits or underscores")
    db_username: Annotated[str, AfterValidator(_db_username)] = setting(
        "master user of the database (its password is RDS-managed)", pattern=PG_IDENT_RE, allowed=DB_USERNAME_ALLOWED)
    airflow_namespace: str = setting(
        "Kubernetes namespace of the Airflow release",
        pattern=K8S_NAME_RE, allowed="use a Kubernetes name: lowercase letters, digits, hyphens")
    chart_version: str = setting(
        "version of the official Apache Airflow Helm chart",
        pattern=SEMVER_RE, allowed="use a chart version such as 1.21.0")
    airflow_image_tag: str = setting(
        "tag of the apache/airflow image the chart runs",
        pattern=r"^[\w][\w.-]{0,127}$", allowed="use an image tag such as 3.2.0")
    git_sync_repo: str = setting(
        "git repository git-sync clones the DAGs from",
        pattern=GIT_URL_RE, allowed="use an https:// URL (no credentials in it) or an ssh URL")
    git_sync_branch: str = setting(
        "branch git-sync follows", pattern=r"^(?!.*\.\.)[\w./-]+$", allowed="use a git branch name")
    git_sync_subpath: str = setting(
        "folder of the repository that holds the DAGs",
        pattern=RELATIVE_PATH_RE, allowed="use a relative folder of the repository, such as dags")
    git_sync_ssh_secret: str = setting(
        "Kubernetes Secret with key gitSshKey, for a private repository over ssh",
        pattern=f"^$|{K8S_NAME_RE}", allowed="use a Kubernetes Secret name, or leave it empty")
    git_sync_credentials_secret: str = setting(
        "Kubernetes Secret with GITSYNC_USERNAME/GITSYNC_PASSWORD (a token), for a private repository over https",
        pattern=f"^$|{K8S_NAME_RE}", allowed="use a Kubernetes Secret name, or leave it empty")
    celery_worker_autoscaling: bool = setting(
        "scale Celery workers with KEDA on queued and running tasks (the apps stack installs KEDA)")
    celery_worker_min_replicas: WholeNumber = setting(
        "Celery workers always running (the fixed count without autoscaling)",
        ge=1, allowed="use 1 or more (a queue needs a worker)")
    celery_worker_max_replicas: WholeNumber = setting(
        "most Celery workers KEDA may run (with autoscaling)", le=100, allowed="use at most 100")
    load_balancer_source_cidrs: tuple[AnyCidr, ...] = setting(
        "CIDRs allowed to reach the Airflow UI load balancer",
        min_length=1, allowed="give at least one CIDR (0.0.0.0/0 for everyone)")
    acm_certificate_arn: str = setting(
        "ACM certificate ARN for HTTPS on the load balancer; empty for HTTP",
        pattern=f"^$|{ACM_RE}", allowed="use an ACM certificate ARN, or leave it empty for HTTP")
    state_bucket: Annotated[str, AfterValidator(_bucket_name)] = setting(
        "S3 bucket for Terraform state; empty keeps state in local files")
    state_region: str = setting(
        "region of the state bucket; empty means the region above",
        pattern=f"^$|{REGION_RE}", allowed="use an AWS region code, or leave it empty for the region above")
    state_key_prefix: str = setting(
        "prefix of the state keys: <prefix>/<stack>.tfstate",
        pattern=r"^[\w.-]+(/[\w.-]+)*$", allowed="use a path of letters, digits, dots, hyphens and slashes")
    github_repository: str = setting(
        "owner/name of the GitHub repository whose workflows may assume the CI roles",
        pattern=GITHUB_REPOSITORY_RE,
        allowed="use owner/name as GitHub spells it, such as your-org/airflow-on-eks (owner: up to 39 letters, "
        "digits and single hyphens; name: up to 100 letters, digits, '.', '_' and '-')")
    github_oidc_provider_exists: bool = setting(
        "the account already has GitHub's OIDC provider: look it up, do not create it")

    # --- the rules between settings ---------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _keep_the_input(cls, data: Any) -> Any:
        _RAW.set(dict(data) if isinstance(data, Mapping) else None)  # for load_settings' partial check
        return data

    @model_validator(mode="after")
    def _rules_between_settings(self) -> Settings:
        problems = _between(self)
        if problems:
            raise PydanticCustomError("between_settings", "{count} problem(s)",
                                      {"count": len(problems), "problems": problems})
        return self

    # --- sources: environment > cdktf.json context > profile table ---------------------------

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        context, environ = _INPUT.get() or (read_context(), os.environ)
        return (init_settings, _Environment(settings_cls, environ), _Context(settings_cls, context),
                _ProfileDefaults(settings_cls))

    # --- derived values -------------------------------------------------------------------

    @property
    def choices(self) -> Profile:
        """What the profile decides (profiles.py): NAT, multi-AZ, deletion protection, replicas, ..."""
        return PROFILES[self.profile]

    @property
    def prefix(self) -> str:
        """Prefix of every resource name, so a dev and a prod install can share an account."""
        return f"{self.name}-{self.profile}"

    @property
    def cluster_name(self) -> str:
        return self.prefix

    @property
    def effective_state_region(self) -> str:
        return self.state_region or self.region

    @property
    def permissions_boundary_name(self) -> str:
        """The policy every role the deploy role creates must carry (made by the bootstrap stack)."""
        return f"{self.prefix}-permissions-boundary"


SETTING_NAMES = tuple(Settings.model_fields)


def setting_docs() -> dict[str, str]:
    return {name: f.description or "" for name, f in Settings.model_fields.items()}


def _extra(name: str) -> dict[str, str]:
    extra = Settings.model_fields[name].json_schema_extra
    return extra if isinstance(extra, dict) else {}  # type: ignore[return-value]


def rule_ids() -> tuple[str, ...]:
    """Every rule a problem can come from: field constraints are named after their setting
    (`<setting>_item` for the items of a list), the rest are CUSTOM_RULES and INPUT_RULES."""
    fields = [name for name in SETTING_NAMES if "allowed" in _extra(name)]
    items = [f"{name}_item" for name in SETTING_NAMES if "item_allowed" in _extra(name)]
    return (*fields, *items, *CUSTOM_RULES, *INPUT_RULES)


def _between(s: Any) -> list[tuple[str, str]]:
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


BETWEEN_RULES: tuple[Callable[[Any, Bad], None], ...] = (
    _zones_of_the_region,
    _subnets_of("eks_vpc_cidr", ("eks_public_subnet_cidrs", "eks_private_subnet_cidrs")),
    _subnets_of("rds_vpc_cidr", ("rds_subnet_cidrs",)),
    _vpcs_disjoint, _node_desired_from_min, _node_desired_to_max, _node_max_from_min, _worker_bounds, _db_storage, _git_sync_secrets,
)


def _sound_settings(raw: Mapping[str, Any], wrong: set[str]) -> SimpleNamespace:
    """The settings that are valid on their own, each validated alone (the others left out)."""
    sound = {}
    for name, value in raw.items():
        if name in Settings.model_fields and name not in wrong:
            try:
                sound[name] = _field_alone(name).validate_python(value)
            except ValidationError:
                continue
    return SimpleNamespace(**sound)


@functools.cache
def _field_alone(name: str) -> TypeAdapter:
    field = Settings.model_fields[name]
    return TypeAdapter(Annotated[field.annotation, field],
                       config=ConfigDict(regex_engine="python-re", str_strip_whitespace=True))


# --- the sources --------------------------------------------------------------------------

# What load_settings() reads (cdktf.json context, environment); unset: the real ones.
_INPUT: ContextVar[tuple[Mapping[str, Any], Mapping[str, str]] | None] = ContextVar("settings_input", default=None)
# The merged input of the last validation (every source), for the rules between the sound settings.
_RAW: ContextVar[dict[str, Any] | None] = ContextVar("settings_raw", default=None)


class _Environment(EnvSettingsSource):
    """AIRFLOW_PLATFORM_* variables of `environ`. Lists are comma-separated; a variable that
    names no setting is passed on under its own name, so the model refuses it."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self.variables = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self.variables.items()}

    def prepare_field_value(self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool) -> Any:
        if isinstance(value, str) and get_origin(field.annotation) is tuple:
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return super().prepare_field_value(field_name, field, value, value_is_complex)

    def __call__(self) -> dict[str, Any]:
        unknown = {k: v for k, v in self.variables.items() if k[len(ENV_PREFIX):].lower() not in SETTING_NAMES}
        return {**super().__call__(), **unknown}


class _Context(PydanticBaseSettingsSource):
    """The `context` of cdktf.json: the documented defaults."""

    def __init__(self, settings_cls: type[BaseSettings], context: Mapping[str, Any]):
        super().__init__(settings_cls)
        self.context = dict(context)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.context.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.context


class _ProfileDefaults(PydanticBaseSettingsSource):
    """The defaults of the settings a profile sizes, from the profile the sources above chose."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        profile = self.current_state.get("profile")
        # An unknown profile: validation names it; any table fills the gap.
        table = PROFILES.get(profile.strip() if isinstance(profile, str) else "") or next(iter(PROFILES.values()))
        return {name: getattr(table, name) for name in PROFILE_SIZED_SETTINGS}


# --- reading ------------------------------------------------------------------------------


def read_context(path: Path = CDKTF_JSON) -> dict[str, Any]:
    return json.loads(path.read_text())["context"]


def load_settings(
    context: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """cdktf.json context, overridden by AIRFLOW_PLATFORM_* variables, validated."""
    context = read_context() if context is None else context
    environ = os.environ if environ is None else environ
    token = _INPUT.set((context, environ))
    _RAW.set(None)
    try:
        settings = Settings()
    except ValidationError as err:
        explained = _explain(err, context, environ)
        raw = _RAW.get()
        if raw is not None and not any(e["type"] == "between_settings" for e in err.errors()):
            # Every problem at once: the rules between the settings that are sound on their own too.
            wrong = {str(e["loc"][0]) for e in err.errors() if e["loc"]}
            explained += [found for found in _between(_sound_settings(raw, wrong)) if found not in explained]
        raise SettingsError([text for _, text in explained], [rule for rule, _ in explained]) from None
    finally:
        _INPUT.reset(token)
    # Capacity last: it needs sound sizes, and its message is about the numbers.
    from airflow_platform.capacity import capacity_problems

    problems = capacity_problems(settings)
    if problems:
        raise SettingsError(problems, ["capacity"] * len(problems))
    return settings


TYPE_ERRORS = {"int_type", "int_parsing", "int_from_float", "bool_type", "bool_parsing", "string_type",
               "ip_v4_network", "ip_any_network",
               "tuple_type", "list_type", "iterable_type"}
WHAT_IT_IS_NOT = {
    int: ("type_int", "is not a whole number"),
    bool: ("type_bool", "is not true or false"),
    str: ("type_str", "is not a string"),
    ipaddress.IPv4Network: ("type_str", "is not a string"),
    tuple: ("type_list", "is not a list of strings (use a JSON list, or commas in an environment variable)"),
}


def _explain(err: ValidationError, context: Mapping[str, Any], environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """pydantic's errors as (rule, problem) pairs, in our words: setting, value, what is allowed."""
    out: list[tuple[str, str]] = []
    errors = err.errors(include_url=False)
    with_bad_items = {e["loc"][0] for e in errors if len(e["loc"]) > 1}
    for e in errors:
        loc, kind, ctx = e["loc"], e["type"], e.get("ctx") or {}
        name = str(loc[0]) if loc else ""
        if kind == "too_short" and name in with_bad_items:
            continue  # pydantic counts only the good items: the bad ones are the problem
        if kind == "between_settings":
            out += ctx["problems"]
        elif kind == "extra_forbidden" and name.startswith(ENV_PREFIX):
            out.append(("unknown_env", f"{name}: unknown setting (environment variable)"))
        elif kind == "extra_forbidden":
            out.append(("unknown_context",
                        f"{name}: unknown setting in cdktf.json context; known settings: see README"))
        elif kind == "missing":
            out.append(("missing", f"{name}: missing from cdktf.json context"))
        elif kind in TYPE_ERRORS:
            env_name = ENV_PREFIX + name.upper()
            raw, source = (environ[env_name], env_name) if env_name in environ else (context.get(name), name)
            annotation = Settings.model_fields[name].annotation
            rule, what = WHAT_IT_IS_NOT[get_origin(annotation) or annotation]
            problem = (rule, f"{name}: {raw!r} (from {source}) {what}")
            if problem not in out:  # a list with several bad items is one problem
                out.append(problem)
        elif kind == "not_allowed":
            out.append((ctx["rule"], not_allowed(name, ctx["value"], ctx["allowed"])))
        else:  # a field constraint: Field(pattern=, ge=, le=, min_length=)
            item = len(loc) > 1
            value = e["input"].strip() if isinstance(e["input"], str) else e["input"]
            value = list(value) if isinstance(value, tuple) and not item else value
            allowed = _extra(name).get("item_allowed" if item else "allowed")
            if allowed is None:  # a constraint without its words: a bug here, still said plainly
                allowed = f"(rule {kind})"
            out.append((f"{name}_item" if item else name, not_allowed(name, value, allowed)))
    return out


# --- for callers --------------------------------------------------------------------------

PLACEHOLDER_GIT_REPO = "https://github.com/your-org/airflow-on-eks.git"


def deploy_warnings(s: Settings, today: date | None = None) -> list[str]:
    """What is allowed but would not work as a user expects: printed by synthesis, not fatal."""
    warnings = []
    if s.git_sync_repo == PLACEHOLDER_GIT_REPO:
        warnings.append(f"git_sync_repo is still the placeholder {PLACEHOLDER_GIT_REPO}: git-sync cannot clone "
                        "it and no DAG will load. Point it at this repository (public, or private with "
                        "git_sync_credentials_secret or git_sync_ssh_secret)")
    eks = eks_support_warning(s.eks_version, today or date.today())
    if eks:
        warnings.append(eks)
    return warnings


def cidrs(networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> list[str]:
    """Networks as the CIDR strings Terraform takes."""
    return [str(net) for net in networks]


def is_graviton(instance_type: str) -> bool:
    """Graviton (arm64) families carry a `g` right after the generation: m7g, c7gn, t4g, r6gd."""
    family = instance_type.split(".")[0]
    after_generation = family.lstrip("abcdefghijklmnopqrstuvwxyz").lstrip("0123456789")
    return after_generation.startswith("g")


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
