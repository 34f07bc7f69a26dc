"""The committed settings, for tests (a module of its own: every conftest.py is named `conftest`)."""

from airflow_platform.settings import Settings, load_settings

# The orders pipeline's source connection for runs outside the platform (dag.test(), the
# upgrade rehearsal): the environment backend, which every Airflow 3 search path holds.
ORDERS_SOURCE_CONNECTION = '{"conn_type": "http", "host": "orders.example.test"}'

# The bucket dev's and prod's bootstraps share in the tests of `state_bucket_exists`.
SHARED_STATE_BUCKET = "shared-terraform-state"

# What a team's DAGs might need beyond connections and logs: their own data bucket (prod only).
EXTRA_TASK_STATEMENT = {"Sid": "OrdersDataLake", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                        "Resource": "arn:aws:s3:::airflow-prod-data/*"}

# The team's image as CI deploys it (prod): the infra stack's repository, by digest.
TEAM_IMAGE_REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow-prod/airflow"
TEAM_IMAGE_DIGEST = "sha256:" + "0123456789abcdef" * 4


def checked_settings(context=None, **overrides) -> Settings:
    """The whole pipeline main.py runs: load_settings(), then preflight (the capacity check)."""
    from airflow_platform.preflight import preflight

    settings = load_settings(context=context, environ={f"AIRFLOW_PLATFORM_{k.upper()}": v for k, v in overrides.items()})
    preflight(settings)
    return settings


def settings_without_env(**overrides) -> Settings:
    """The committed defaults (cdktf.json), ignoring the caller's AIRFLOW_PLATFORM_* variables."""
    env = {f"AIRFLOW_PLATFORM_{k.upper()}": v for k, v in overrides.items()}
    return load_settings(environ=env)


def example_ci_target(settings: Settings, account_id: str = "123456789012"):
    """The CI policies' target for `settings`, in an example account (tests evaluate the policies
    on literal ARNs; the bootstrap stack renders them with Terraform tokens)."""
    from airflow_platform.ci_policies import CiTarget
    from airflow_platform.cluster_access import ci_role_names

    roles = ci_role_names(settings.prefix)
    return CiTarget(partition="aws", account_id=account_id, region=settings.region, name=settings.name,
                    profile=settings.profile, prefix=settings.prefix, state_bucket="tfstate-example",
                    state_key_prefix=settings.state_key_prefix, plan_role_name=roles.plan,
                    deploy_role_name=roles.deploy, boundary_name=settings.permissions_boundary_name)
