"""The one typed, validated settings object: the only place that reads input.

Defaults live in the `context` of `cdktf.json`, and for the settings a profile sizes (node
sizes, worker bounds) in the profile table (`profiles.py`); each setting can be overridden by
an environment variable named `AIRFLOW_PLATFORM_<SETTING>` (lists are comma-separated).
`load_settings()` validates everything before a single construct is built, and raises
`SettingsError` with one line per problem, each naming the setting, the value and what
is allowed.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from datetime import date
from typing import Any, Mapping

from airflow_platform.airflow_identity import AIRFLOW_DB_ROLE
from airflow_platform.profiles import PROFILE_SIZED_SETTINGS, PROFILES, Profile
from airflow_platform.versions import CLUSTER_AUTOSCALER_TAGS, cluster_autoscaler_tag, eks_support_warning

ENV_PREFIX = "AIRFLOW_PLATFORM_"
CDKTF_JSON = Path(__file__).resolve().parent.parent / "cdktf.json"


class SettingsError(ValueError):
    """Bad input: the message names every offending setting and what is allowed."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))


def _setting(doc: str) -> Any:
    # Every setting must be given by cdktf.json's context (the documented defaults),
    # so the dataclass carries no second copy of the defaults.
    return field(metadata={"doc": doc})


@dataclass(frozen=True)
class Settings:
    profile: str = _setting("dev or prod: switches NAT per AZ, multi-AZ DB, deletion protection, replicas")
    region: str = _setting("AWS region of both VPCs, the cluster and the database")
    name: str = _setting("base name of every resource; resources are named <name>-<profile>-...")
    availability_zones: tuple[str, ...] = _setting("at least two AZs of the region, one subnet of each kind per AZ")
    eks_vpc_cidr: str = _setting("CIDR of the EKS VPC")
    eks_public_subnet_cidrs: tuple[str, ...] = _setting("public subnets (load balancer, NAT), one per AZ")
    eks_private_subnet_cidrs: tuple[str, ...] = _setting("private subnets (nodes, pods), one per AZ")
    rds_vpc_cidr: str = _setting("CIDR of the RDS VPC; must not overlap the EKS VPC")
    rds_subnet_cidrs: tuple[str, ...] = _setting("subnets of the DB subnet group, one per AZ")
    rds_subnets_public: bool = _setting("place the DB subnet group in public subnets (the DB itself stays private)")
    flow_log_retention_days: int = _setting("retention of VPC flow logs and EKS control-plane logs")
    eks_version: str = _setting("Kubernetes minor version of the EKS cluster (standard support only)")
    cluster_endpoint_public_cidrs: tuple[str, ...] = _setting("CIDRs allowed to reach the public EKS API endpoint")
    cluster_admin_principal_arns: tuple[str, ...] = _setting("IAM roles/users granted cluster admin by access entries")
    node_instance_types: tuple[str, ...] = _setting("EC2 instance types of the managed node group")
    node_min_size: int = _setting("node group minimum size (>= 1)")
    node_desired_size: int = _setting("node group desired size (min <= desired <= max)")
    node_max_size: int = _setting("node group maximum size")
    node_disk_size_gib: int = _setting("encrypted gp3 root volume of each node, GiB")
    db_engine_version: str = _setting("RDS PostgreSQL major version; RDS applies minor versions automatically")
    db_instance_class: str = _setting("RDS instance class")
    db_allocated_storage_gib: int = _setting("initial RDS storage, GiB")
    db_max_allocated_storage_gib: int = _setting("RDS storage autoscaling ceiling, GiB")
    db_backup_retention_days: int = _setting("automated backup retention, 7-35 days")
    db_name: str = _setting("name of the Airflow metadata database")
    db_username: str = _setting("master user of the database (its password is RDS-managed)")
    airflow_namespace: str = _setting("Kubernetes namespace of the Airflow release")
    chart_version: str = _setting("version of the official Apache Airflow Helm chart")
    airflow_image_tag: str = _setting("tag of the apache/airflow image the chart runs")
    git_sync_repo: str = _setting("git repository git-sync clones the DAGs from")
    git_sync_branch: str = _setting("branch git-sync follows")
    git_sync_subpath: str = _setting("folder of the repository that holds the DAGs")
    git_sync_ssh_secret: str = _setting("Kubernetes Secret with key gitSshKey, for a private repository over ssh")
    git_sync_credentials_secret: str = _setting(
        "Kubernetes Secret with GITSYNC_USERNAME/GITSYNC_PASSWORD (a token), for a private repository over https")
    celery_worker_autoscaling: bool = _setting("scale Celery workers with KEDA on queued and running tasks (the apps "
                                               "stack installs KEDA)")
    celery_worker_min_replicas: int = _setting("Celery workers always running (the fixed count without autoscaling)")
    celery_worker_max_replicas: int = _setting("most Celery workers KEDA may run (with autoscaling)")
    load_balancer_source_cidrs: tuple[str, ...] = _setting("CIDRs allowed to reach the Airflow UI load balancer")
    acm_certificate_arn: str = _setting("ACM certificate ARN for HTTPS on the load balancer; empty for HTTP")
    state_bucket: str = _setting("S3 bucket for Terraform state; empty keeps state in local files")
    state_region: str = _setting("region of the state bucket; empty means the region above")
    state_key_prefix: str = _setting("prefix of the state keys: <prefix>/<stack>.tfstate")
    github_repository: str = _setting("owner/name of the GitHub repository whose workflows may assume the CI roles")
    github_oidc_provider_exists: bool = _setting("the account already has GitHub's OIDC provider: look it up, do not create it")

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


SETTING_NAMES = tuple(f.name for f in dataclasses.fields(Settings))


def setting_docs() -> dict[str, str]:
    return {f.name: f.metadata["doc"] for f in dataclasses.fields(Settings)}


# --- reading ------------------------------------------------------------------------------


def read_context(path: Path = CDKTF_JSON) -> dict[str, Any]:
    return json.loads(path.read_text())["context"]


def load_settings(
    context: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """cdktf.json context, overridden by AIRFLOW_PLATFORM_* variables, validated."""
    context = read_context() if context is None else context
    environ = os.environ if environ is None else environ
    problems: list[str] = []

    unknown = sorted(set(context) - set(SETTING_NAMES))
    problems += [f"{k}: unknown setting in cdktf.json context; known settings: see README" for k in unknown]
    unknown_env = sorted(
        k for k in environ if k.startswith(ENV_PREFIX) and k[len(ENV_PREFIX):].lower() not in SETTING_NAMES
    )
    problems += [f"{k}: unknown setting (environment variable)" for k in unknown_env]

    profile = str(environ.get(ENV_PREFIX + "PROFILE", context.get("profile", ""))).strip()
    sized_by = PROFILES.get(profile)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        env_name = ENV_PREFIX + f.name.upper()
        if env_name in environ:
            raw, source = environ[env_name], env_name
        elif f.name in context:
            raw, source = context[f.name], f.name
        elif f.name in PROFILE_SIZED_SETTINGS:
            if sized_by is None:  # an unknown profile: validation names it; any table fills the gap
                sized_by = next(iter(PROFILES.values()))
            values[f.name] = getattr(sized_by, f.name)
            continue
        else:
            problems.append(f"{f.name}: missing from cdktf.json context")
            continue
        try:
            values[f.name] = _coerce(raw, f.type)
        except ValueError as err:
            problems.append(f"{f.name}: {raw!r} (from {source}) {err}")
    if len(values) < len(SETTING_NAMES):
        raise SettingsError(problems)

    settings = Settings(**values)
    problems += validate(settings)
    if problems:
        raise SettingsError(problems)
    return settings


def _coerce(raw: Any, type_name: str) -> Any:
    if type_name == "str":
        if not isinstance(raw, str):
            raise ValueError("is not a string")
        return raw.strip()
    if type_name == "int":
        if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not re.fullmatch(r"-?\d+", str(raw).strip()):
            raise ValueError("is not a whole number")
        return int(raw)
    if type_name == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise ValueError("is not true or false")
    if type_name == "tuple[str, ...]":
        if isinstance(raw, str):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            return tuple(item.strip() for item in raw)
        raise ValueError("is not a list of strings (use a JSON list, or commas in an environment variable)")
    raise AssertionError(f"no parser for {type_name}")


# --- validation ---------------------------------------------------------------------------

REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
NAME_RE = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,18}[a-z0-9]$")
K8S_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
PG_IDENT_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$")
SEMVER_RE = re.compile(r"^\d+\.\d+\.\d+$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Names S3 refuses beyond the characters: an IP address, reserved prefixes and suffixes, `..`, `.-`, `-.`.
BUCKET_RESERVED_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$|^(xn--|sthree-|amzn-s3-demo-)|(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$"
                                r"|\.\.|\.-|-\.")
# GitHub: owner 1-39 letters, digits, single inner hyphens; repository 1-100 of letters, digits, . _ -
GITHUB_REPOSITORY_RE = re.compile(r"^(?=[^/]{1,39}/)[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")
PRINCIPAL_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
ACM_RE = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$")
GIT_URL_RE = re.compile(r"^(https://[^\s@]+|ssh://[^\s]+|git@[\w.-]+:[^\s]+)$")
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                             2192, 2557, 2922, 3288, 3653)
RESERVED_DB_USERS = {"postgres", "rdsadmin", "rdsrepladmin", "rds_superuser", "admin", "public"}


def validate(s: Settings) -> list[str]:
    """Every rule, as a list of problems (empty when the settings are good)."""
    p: list[str] = []

    def bad(setting: str, value: Any, allowed: str) -> None:
        p.append(f"{setting}: {value!r} is not allowed; {allowed}")

    if s.profile not in PROFILES:
        bad("profile", s.profile, f"use one of {', '.join(PROFILES)}")
    if not REGION_RE.match(s.region):
        bad("region", s.region, "use an AWS region code such as us-east-1 or eu-west-2")
    if not NAME_RE.match(s.name):
        bad("name", s.name, "use 2-20 lowercase letters, digits and single hyphens, starting with a letter")

    azs = s.availability_zones
    if len(azs) < 2:
        bad("availability_zones", list(azs), "give at least two availability zones (EKS and RDS need two)")
    if len(set(azs)) != len(azs):
        bad("availability_zones", list(azs), "each availability zone may appear once")
    for az in azs:
        if not re.fullmatch(re.escape(s.region) + r"[a-z]", az):
            bad("availability_zones", az, f"use zones of region {s.region}, such as {s.region}a")

    p += _vpc_problems("eks", s.eks_vpc_cidr, {
        "eks_public_subnet_cidrs": s.eks_public_subnet_cidrs,
        "eks_private_subnet_cidrs": s.eks_private_subnet_cidrs,
    }, len(azs))
    p += _vpc_problems("rds", s.rds_vpc_cidr, {"rds_subnet_cidrs": s.rds_subnet_cidrs}, len(azs))
    eks_net, rds_net = _network(s.eks_vpc_cidr), _network(s.rds_vpc_cidr)
    if eks_net and rds_net and eks_net.overlaps(rds_net):
        p.append(
            f"rds_vpc_cidr: {s.rds_vpc_cidr!r} overlaps eks_vpc_cidr {s.eks_vpc_cidr!r}; "
            "peered VPCs need disjoint CIDRs or the routes between them cannot work"
        )

    for setting in ("cluster_endpoint_public_cidrs", "load_balancer_source_cidrs"):
        cidrs = getattr(s, setting)
        if not cidrs:
            bad(setting, [], "give at least one CIDR (0.0.0.0/0 for everyone)")
        for cidr in cidrs:
            problem = cidr_problem(cidr, ipv6_ok=setting == "load_balancer_source_cidrs")
            if problem:
                bad(setting, cidr, problem)

    if s.flow_log_retention_days not in CLOUDWATCH_RETENTION_DAYS:
        bad("flow_log_retention_days", s.flow_log_retention_days,
            f"use a CloudWatch retention: {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}")
    eks_version_ok = bool(re.fullmatch(r"1\.\d{2}", s.eks_version))
    if not eks_version_ok:
        bad("eks_version", s.eks_version, "use a Kubernetes minor version such as 1.35 (no patch, no leading v)")
    for arn in s.cluster_admin_principal_arns:
        if not PRINCIPAL_RE.match(arn):
            bad("cluster_admin_principal_arns", arn, "use IAM role or user ARNs (arn:aws:iam::123456789012:role/name)")

    if not s.node_instance_types:
        bad("node_instance_types", [], "give at least one EC2 instance type")
    for itype in s.node_instance_types:
        if not re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z0-9]+", itype):
            bad("node_instance_types", itype, "use EC2 instance types such as m6i.large")
    if len({is_graviton(t) for t in s.node_instance_types}) > 1:
        bad("node_instance_types", list(s.node_instance_types),
            "use instance types of one architecture: all Graviton (arm64) or all x86_64")
    if s.node_min_size < 1:
        bad("node_min_size", s.node_min_size, "use 1 or more (Airflow needs a node to run on)")
    if s.node_desired_size < s.node_min_size:
        bad("node_desired_size", s.node_desired_size, f"use at least node_min_size ({s.node_min_size})")
    if s.node_desired_size > s.node_max_size:
        bad("node_desired_size", s.node_desired_size, f"use at most node_max_size ({s.node_max_size})")
    if s.node_max_size < s.node_min_size:
        bad("node_max_size", s.node_max_size, f"use at least node_min_size ({s.node_min_size})")
    if s.celery_worker_min_replicas < 1:
        bad("celery_worker_min_replicas", s.celery_worker_min_replicas, "use 1 or more (a queue needs a worker)")
    if s.celery_worker_max_replicas < s.celery_worker_min_replicas:
        bad("celery_worker_max_replicas", s.celery_worker_max_replicas,
            f"use at least celery_worker_min_replicas ({s.celery_worker_min_replicas})")
    if s.celery_worker_max_replicas > 100:
        bad("celery_worker_max_replicas", s.celery_worker_max_replicas, "use at most 100")
    if not 20 <= s.node_disk_size_gib <= 16384:
        bad("node_disk_size_gib", s.node_disk_size_gib, "use 20 to 16384 GiB")

    if not re.fullmatch(r"\d{2}", s.db_engine_version) or not 13 <= int(s.db_engine_version) <= 17:
        bad("db_engine_version", s.db_engine_version,
            "use a PostgreSQL major version from 13 to 17, such as 16: RDS applies minor versions itself "
            "(a pinned minor stops being creatable once RDS deprecates it)")
    if not re.fullmatch(r"db\.[a-z0-9]+\.[a-z0-9]+", s.db_instance_class):
        bad("db_instance_class", s.db_instance_class, "use an RDS instance class such as db.t4g.medium")
    if not 20 <= s.db_allocated_storage_gib <= 65536:
        bad("db_allocated_storage_gib", s.db_allocated_storage_gib, "use 20 to 65536 GiB")
    if s.db_max_allocated_storage_gib < s.db_allocated_storage_gib:
        bad("db_max_allocated_storage_gib", s.db_max_allocated_storage_gib,
            f"use at least db_allocated_storage_gib ({s.db_allocated_storage_gib})")
    if not 7 <= s.db_backup_retention_days <= 35:
        bad("db_backup_retention_days", s.db_backup_retention_days, "use 7 to 35 days")
    if not PG_IDENT_RE.match(s.db_name):
        bad("db_name", s.db_name, "use a letter then up to 62 letters, digits or underscores")
    if not PG_IDENT_RE.match(s.db_username) or s.db_username.lower() in RESERVED_DB_USERS:
        bad("db_username", s.db_username,
            f"use a letter then letters, digits or underscores, not one of {', '.join(sorted(RESERVED_DB_USERS))}")
    elif s.db_username.lower() == AIRFLOW_DB_ROLE:
        bad("db_username", s.db_username, f"the master user must not be named like Airflow's own database role "
            f"{AIRFLOW_DB_ROLE!r} (the role bootstrap creates it); choose another name")

    if not K8S_NAME_RE.match(s.airflow_namespace):
        bad("airflow_namespace", s.airflow_namespace, "use a Kubernetes name: lowercase letters, digits, hyphens")
    if not SEMVER_RE.match(s.chart_version):
        bad("chart_version", s.chart_version, "use a chart version such as 1.21.0")
    if not re.fullmatch(r"[\w][\w.-]{0,127}", s.airflow_image_tag):
        bad("airflow_image_tag", s.airflow_image_tag, "use an image tag such as 3.2.0")
    if not GIT_URL_RE.match(s.git_sync_repo):
        bad("git_sync_repo", s.git_sync_repo, "use an https:// URL (no credentials in it) or an ssh URL")
    elif not s.git_sync_repo.startswith("https://") and not s.git_sync_ssh_secret:
        bad("git_sync_ssh_secret", s.git_sync_ssh_secret, "name the Secret with the SSH key when git_sync_repo is an ssh URL")
    elif s.git_sync_repo.startswith("https://") and s.git_sync_ssh_secret:
        bad("git_sync_ssh_secret", s.git_sync_ssh_secret,
            "leave it empty for an https git_sync_repo (use git_sync_credentials_secret for a token), "
            "or make git_sync_repo an ssh URL")
    if s.git_sync_credentials_secret and not s.git_sync_repo.startswith("https://"):
        bad("git_sync_credentials_secret", s.git_sync_credentials_secret,
            "a username/token Secret works over https only: leave it empty for an ssh git_sync_repo")
    if not re.fullmatch(r"[\w./-]+", s.git_sync_branch) or ".." in s.git_sync_branch:
        bad("git_sync_branch", s.git_sync_branch, "use a git branch name")
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)*", s.git_sync_subpath) or ".." in s.git_sync_subpath.split("/"):
        bad("git_sync_subpath", s.git_sync_subpath, "use a relative folder of the repository, such as dags")
    for setting in ("git_sync_ssh_secret", "git_sync_credentials_secret"):
        if getattr(s, setting) and not K8S_NAME_RE.match(getattr(s, setting)):
            bad(setting, getattr(s, setting), "use a Kubernetes Secret name, or leave it empty")
    if s.acm_certificate_arn and not ACM_RE.match(s.acm_certificate_arn):
        bad("acm_certificate_arn", s.acm_certificate_arn, "use an ACM certificate ARN, or leave it empty for HTTP")

    if s.state_bucket and (not BUCKET_RE.match(s.state_bucket) or BUCKET_RESERVED_RE.search(s.state_bucket)):
        bad("state_bucket", s.state_bucket, "use an S3 bucket name: 3-63 lowercase letters, digits, dots, hyphens, "
            "starting and ending with a letter or digit, no '..', '.-' or '-.', not an IP address, "
            "no reserved prefix (xn--, sthree-) or suffix (-s3alias, --ol-s3, .mrap, --x-s3)")
    if s.state_region and not REGION_RE.match(s.state_region):
        bad("state_region", s.state_region, "use an AWS region code, or leave it empty for the region above")
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)*", s.state_key_prefix):
        bad("state_key_prefix", s.state_key_prefix, "use a path of letters, digits, dots, hyphens and slashes")
    if not GITHUB_REPOSITORY_RE.match(s.github_repository):
        bad("github_repository", s.github_repository,
            "use owner/name as GitHub spells it, such as your-org/airflow-on-eks (owner: up to 39 letters, digits "
            "and single hyphens; name: up to 100 letters, digits, '.', '_' and '-')")
    if eks_version_ok and cluster_autoscaler_tag(s.eks_version) is None:
        bad("eks_version", s.eks_version, "use a version with a known Cluster Autoscaler release: "
            + ", ".join(CLUSTER_AUTOSCALER_TAGS))
    if not p:
        # Capacity last: it needs sound sizes, and its message is about the numbers.
        from airflow_platform.capacity import capacity_problems

        p += capacity_problems(s)
    return p


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


def _network(cidr: str) -> ipaddress.IPv4Network | None:
    return None if cidr_problem(cidr) else ipaddress.ip_network(cidr)  # type: ignore[return-value]


def _vpc_problems(kind: str, vpc_cidr: str, subnet_groups: dict[str, tuple[str, ...]], az_count: int) -> list[str]:
    """A VPC CIDR AWS accepts (/16 to /28), and subnets inside it, one per AZ, disjoint."""
    p: list[str] = []
    setting = f"{kind}_vpc_cidr"
    problem = cidr_problem(vpc_cidr)
    vpc = None if problem else ipaddress.ip_network(vpc_cidr)
    if problem:
        p.append(f"{setting}: {vpc_cidr!r} is not allowed; {problem}")
    elif not 16 <= vpc.prefixlen <= 28:
        p.append(f"{setting}: {vpc_cidr!r} is not allowed; AWS VPCs take a prefix from /16 to /28")
        vpc = None

    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for group, cidrs in subnet_groups.items():
        if len(cidrs) != az_count:
            p.append(f"{group}: {list(cidrs)!r} is not allowed; give one subnet per availability zone ({az_count})")
        for cidr in cidrs:
            problem = cidr_problem(cidr)
            if problem:
                p.append(f"{group}: {cidr!r} is not allowed; {problem}")
                continue
            net = ipaddress.ip_network(cidr)
            if vpc is not None and not net.subnet_of(vpc):
                p.append(f"{group}: {cidr!r} is not allowed; it lies outside {setting} {vpc_cidr}")
            elif not 16 <= net.prefixlen <= 28:
                p.append(f"{group}: {cidr!r} is not allowed; AWS subnets take a prefix from /16 to /28")
            for other_group, other in seen:
                if net.overlaps(other):
                    p.append(f"{group}: {cidr!r} is not allowed; it overlaps {other} of {other_group}")
            seen.append((group, net))
    return p
