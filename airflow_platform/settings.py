"""The one typed, validated settings object: the only place that reads input.

`load_settings()` is a plain pipeline of three steps, each in its own place:

1. merge (`setting_sources.merge`): the profile table, then the `context` of cdktf.json,
   then AIRFLOW_PLATFORM_* variables; a key that names no setting is a problem;
2. validate each field (`Settings`, a frozen pydantic model: field constraints such as
   `Field(ge=, le=, pattern=)` and validators of the field's type, `setting_rules.py`);
3. the rules between fields (`setting_rules.rules_between`), over the whole model, or, when
   a field is wrong, over the settings that are sound on their own: every problem at once.

Every problem becomes one line of `SettingsError`, naming the setting, the value and what is
allowed. What needs the whole, sound settings (the capacity check, the deploy warnings) is
the next step, `preflight.py`, which main.py calls after this one.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from types import SimpleNamespace
from typing import Annotated, Any, Mapping, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from airflow_platform.airflow_image import DIGEST_RE, IMAGE_REPOSITORY_RE, AirflowImage
from airflow_platform.profiles import PROFILES, Profile
from airflow_platform.setting_rules import (
    ACM_RE, CUSTOM_RULES, DB_RESTORE_TIME_ALLOWED, DB_RESTORE_TIME_RE, a_past_restore_time, DB_USERNAME_ALLOWED, EMAIL_RE, GIT_URL_RE, GITHUB_REPOSITORY_RE, K8S_NAME_RE, NAME_RE, PG_IDENT_RE,
    PRINCIPAL_RE, REGION_RE, RELATIVE_PATH_RE, SEMVER_RE, AnyCidr, Ipv4Cidr, SubnetCidrs, VpcCidr, WholeNumber,
    known_to_the_autoscaler, rules_between, s3_bucket_name, cloudwatch_retention, master_user_name, each_once, a_profile,
    one_architecture, not_allowed, policy_statements, known_db_memory,
)
from airflow_platform.ui_access_rules import (
    OIDC_CLIENT_ID_RE, OIDC_GROUPS_CLAIM_RE, OIDC_ISSUER_RE, OIDC_ROLE_MAPPING_RE, UI_EXPOSURE_RE, AIRFLOW_ROLES,
)
from airflow_platform.setting_sources import MergedInput, merge, read_context


class SettingsError(ValueError):
    """Bad input: the message names every offending setting and what is allowed.

    `problems` holds one line per problem; `rules` the id of the rule behind each (see `rule_ids()`)."""

    def __init__(self, problems: list[str], rules: list[str] | None = None):
        self.problems = problems
        self.rules = rules if rules is not None else ["" for _ in problems]
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))


# Problems with the input itself rather than a value's rule.
INPUT_RULES = ("unknown_context", "unknown_env", "missing", "type_int", "type_bool", "type_list", "type_str",
               "capacity")


def setting(doc: str, *, allowed: str | None = None, item_allowed: str | None = None, **constraints: Any) -> Any:
    """A required setting (cdktf.json or the profile table gives every default). `allowed`
    says what the field's constraints accept, `item_allowed` what its items' accept."""
    extra = {"allowed": allowed, "item_allowed": item_allowed}
    return Field(description=doc, json_schema_extra={k: v for k, v in extra.items() if v} or None, **constraints)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, regex_engine="python-re")

    profile: Annotated[str, AfterValidator(a_profile)] = setting(
        "dev or prod: switches NAT per AZ, multi-AZ DB, deletion protection, replicas")
    region: str = setting(
        "AWS region of both VPCs, the cluster and the database",
        pattern=REGION_RE, allowed="use an AWS region code such as us-east-1 or eu-west-2")
    name: str = setting(
        "base name of every resource; resources are named <name>-<profile>-...",
        pattern=NAME_RE, allowed="use 2-20 lowercase letters, digits and single hyphens, starting with a letter")
    availability_zones: Annotated[tuple[str, ...], AfterValidator(each_once)] = setting(
        "at least two AZs of the region, one subnet of each kind per AZ",
        min_length=2, allowed="give at least two availability zones (EKS and RDS need two)")
    eks_vpc_cidr: VpcCidr = setting("CIDR of the EKS VPC")
    eks_public_subnet_cidrs: SubnetCidrs = setting("public subnets (load balancer, NAT), one per AZ")
    eks_private_subnet_cidrs: SubnetCidrs = setting("private subnets (nodes, pods), one per AZ")
    rds_vpc_cidr: VpcCidr = setting("CIDR of the RDS VPC; must not overlap the EKS VPC")
    rds_subnet_cidrs: SubnetCidrs = setting("subnets of the DB subnet group, one per AZ")
    rds_subnets_public: bool = setting(
        "place the DB subnet group in public subnets (the DB itself stays private)")
    flow_log_retention_days: Annotated[WholeNumber, cloudwatch_retention("flow_log_retention_days")] = setting(
        "retention of VPC flow logs and EKS control-plane logs")
    component_log_retention_days: Annotated[WholeNumber, cloudwatch_retention("component_log_retention_days")] = setting(
        "retention of the pods' logs in CloudWatch (/aws/containerinsights/<cluster>/...)")
    eks_version: Annotated[str, AfterValidator(known_to_the_autoscaler)] = setting(
        "Kubernetes minor version of the EKS cluster (standard support only)",
        pattern=r"^1\.\d{2}$", allowed="use a Kubernetes minor version such as 1.35 (no patch, no leading v)")
    cluster_endpoint_public_cidrs: tuple[Ipv4Cidr, ...] = setting(
        "CIDRs allowed to reach the public EKS API endpoint",
        min_length=1, allowed="give at least one CIDR (0.0.0.0/0 for everyone)")
    cluster_admin_principal_arns: tuple[Annotated[str, Field(pattern=PRINCIPAL_RE)], ...] = setting(
        "IAM roles/users granted cluster admin by access entries",
        item_allowed="use IAM role or user ARNs (arn:aws:iam::123456789012:role/name)")
    node_instance_types: Annotated[
        tuple[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")], ...], AfterValidator(one_architecture),
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
    db_instance_class: Annotated[str, AfterValidator(known_db_memory)] = setting(
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
    db_username: Annotated[str, AfterValidator(master_user_name)] = setting(
        "master user of the database (its password is RDS-managed)", pattern=PG_IDENT_RE, allowed=DB_USERNAME_ALLOWED)
    db_restore_time: Annotated[str, AfterValidator(a_past_restore_time)] = setting(
        "point in time to restore the metadata database to, as a NEW instance the platform then uses "
        "(docs/restore.md); empty: the instance the platform created",
        pattern=DB_RESTORE_TIME_RE, allowed=DB_RESTORE_TIME_ALLOWED)
    airflow_namespace: str = setting(
        "Kubernetes namespace of the Airflow release",
        pattern=K8S_NAME_RE, allowed="use a Kubernetes name: lowercase letters, digits, hyphens")
    chart_version: str = setting(
        "version of the official Apache Airflow Helm chart",
        pattern=SEMVER_RE, allowed="use a chart version such as 1.21.0")
    airflow_image_tag: str = setting(
        "the platform's Airflow version: tag of the apache/airflow image, and the team image's base",
        pattern=r"^[\w][\w.-]{0,127}$", allowed="use an image tag such as 3.3.2")
    airflow_image_repository: str = setting(
        "repository of the image every Airflow container runs: apache/airflow, or the team's ECR repository "
        "(the infra stack's output airflow_image_repository_url)",
        pattern=IMAGE_REPOSITORY_RE,
        allowed="use apache/airflow, or an ECR repository URI such as "
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow-dev/airflow")
    airflow_image_digest: str = setting(
        "digest of the team's image in airflow_image_repository (CI sets it after the push); empty: by tag",
        pattern=DIGEST_RE, allowed="use sha256: and 64 lowercase hex digits, or leave it empty")
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
    ui_exposure: str = setting(
        "internal (from the VPC, its peers, a VPN) or internet-facing (then with acm_certificate_arn)",
        pattern=UI_EXPOSURE_RE, allowed="use internal or internet-facing")
    allow_plain_http_ui: bool = setting(
        "dev only: let an internet-facing UI without acm_certificate_arn listen on plain HTTP (narrow sources)")
    oidc_issuer_url: str = setting(
        "OIDC issuer of the identity provider users sign in with (https://...); empty: the local admin only",
        pattern=OIDC_ISSUER_RE,
        allowed="use the provider's https issuer URL without query, fragment or credentials, or leave it empty")
    oidc_client_id: str = setting(
        "client id of this application at the identity provider (its secret is in Secrets Manager)",
        pattern=OIDC_CLIENT_ID_RE, allowed="use the client id as the provider shows it (no spaces, quotes or braces)")
    oidc_groups_claim: str = setting(
        "claim of the ID token / userinfo that lists the user's groups",
        pattern=OIDC_GROUPS_CLAIM_RE, allowed="use a claim name such as groups or cognito:groups")
    oidc_role_mappings: tuple[Annotated[str, Field(pattern=OIDC_ROLE_MAPPING_RE)], ...] = setting(
        "group=Role pairs: members of the group get that Airflow role at every sign-in",
        item_allowed=f"use group=Role with Role one of {', '.join(AIRFLOW_ROLES)}")
    alert_email_addresses: tuple[Annotated[str, Field(pattern=EMAIL_RE)], ...] = setting(
        "email addresses subscribed to the alert topic (each confirms by the link SNS mails)",
        item_allowed="use email addresses such as oncall@example.com")
    state_bucket: Annotated[str, AfterValidator(s3_bucket_name)] = setting(
        "S3 bucket for Terraform state; empty keeps state in local files")
    state_bucket_exists: bool = setting(
        "state_bucket was created by another environment's bootstrap: look it up, do not create it")
    state_region: str = setting(
        "region of the state bucket; empty means the region above",
        pattern=f"^$|{REGION_RE}", allowed="use an AWS region code, or leave it empty for the region above")
    state_key_prefix: str = setting(
        "prefix of the state keys: <prefix>/<name>-<profile>/<stack>.tfstate",
        pattern=r"^[\w.-]+(/[\w.-]+)*$", allowed="use a path of letters, digits, dots, hyphens and slashes")
    github_repository: str = setting(
        "owner/name of the GitHub repository whose workflows may assume the CI roles",
        pattern=GITHUB_REPOSITORY_RE,
        allowed="use owner/name as GitHub spells it, such as your-org/airflow-on-eks (owner: up to 39 letters, "
        "digits and single hyphens; name: up to 100 letters, digits, '.', '_' and '-')")
    airflow_task_policy_statements: Annotated[tuple[dict, ...], AfterValidator(policy_statements)] = setting(
        "IAM statements added to the role task code runs under (workers, triggerer), for what the DAGs "
        "need; each must lie inside the permissions boundary (docs/pipelines.md)")
    github_oidc_provider_exists: bool = setting(
        "the account already has GitHub's OIDC provider: look it up, do not create it")

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
    def airflow_image(self) -> AirflowImage:
        """The image every Airflow container and the role-bootstrap Job run."""
        return AirflowImage(self.airflow_image_repository, self.airflow_image_tag, self.airflow_image_digest)

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
                       config=ConfigDict(**{k: Settings.model_config[k]  # type: ignore[literal-required]
                                            for k in ("regex_engine", "str_strip_whitespace")}))


# --- reading: the pipeline ---------------------------------------------------------------


def load_settings(
    context: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """cdktf.json context, overridden by AIRFLOW_PLATFORM_* variables: merged, each field
    validated, then the rules between fields. Raises SettingsError with every problem."""
    context = read_context() if context is None else context
    environ = os.environ if environ is None else environ
    merged = merge(context, environ, {name: _is_list(name) for name in SETTING_NAMES})
    problems = list(merged.problems)
    try:
        settings: Any = Settings.model_validate(merged.values)
    except ValidationError as err:
        problems += _explain(err, merged)
        wrong = {str(e["loc"][0]) for e in err.errors() if e["loc"]}
        settings = _sound_settings(merged.values, wrong)
    problems += [found for found in rules_between(settings) if found not in problems]
    if problems:
        raise SettingsError([text for _, text in problems], [rule for rule, _ in problems])
    return settings


def _is_list(name: str) -> bool:
    return get_origin(Settings.model_fields[name].annotation) is tuple


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


def _explain(err: ValidationError, merged: MergedInput) -> list[tuple[str, str]]:
    """pydantic's errors as (rule, problem) pairs, in our words: setting, value, what is allowed."""
    out: list[tuple[str, str]] = []
    errors = err.errors(include_url=False)
    with_bad_items = {e["loc"][0] for e in errors if len(e["loc"]) > 1}
    for e in errors:
        loc, kind, ctx = e["loc"], e["type"], e.get("ctx") or {}
        name = str(loc[0]) if loc else ""
        if kind == "too_short" and name in with_bad_items:
            continue  # pydantic counts only the good items: the bad ones are the problem
        if kind == "missing":
            out.append(("missing", f"{name}: missing from cdktf.json context"))
        elif kind in TYPE_ERRORS:
            raw, source = merged.texts.get(name, merged.values.get(name)), merged.sources.get(name, name)
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
