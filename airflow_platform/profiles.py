"""The one table of what a profile decides: every cost-against-availability choice, by name.

Everything that differs between `dev` and `prod` is read from here (the stacks, the chart
values, the capacity check, the cost table), and docs/settings.md's "What `profile` switches" table is
checked against it (tests/test_profiles.py). The last block holds the defaults of settings a
profile sizes differently; cdktf.json or an AIRFLOW_PLATFORM_* variable still overrides them.
To change what a profile means, change it here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


def setting_default() -> Any:
    """A field that is the default of the setting of the same name (overridable), not a fixed choice."""
    return field(metadata={"setting_default": True})


@dataclass(frozen=True)
class Profile:
    # --- the network ---------------------------------------------------------------------
    nat_gateway_per_az: bool  # else one NAT gateway: cheaper, but one AZ's outage cuts egress
    # --- the metadata database -----------------------------------------------------------
    db_multi_az: bool
    db_deletion_protection: bool
    db_final_snapshot: bool  # a snapshot before `destroy` deletes the instance
    # --- data that outlives a mistake ----------------------------------------------------
    task_logs_destroyable: bool  # `destroy` empties the task-logs bucket instead of failing
    secret_recovery_days: int  # Secrets Manager's recovery window of deleted generated secrets (0: at once)
    # --- Airflow ------------------------------------------------------------------------------
    scheduler_replicas: int
    api_server_replicas: int
    pgbouncer_replicas: int
    pod_disruption_budgets: bool  # one pod of each component stays up through node drains
    # --- defaults of settings sized per profile (overridable) --------------------------------
    node_instance_types: tuple[str, ...] = setting_default()
    node_min_size: int = setting_default()
    node_desired_size: int = setting_default()
    node_max_size: int = setting_default()
    celery_worker_autoscaling: bool = setting_default()
    celery_worker_min_replicas: int = setting_default()
    celery_worker_max_replicas: int = setting_default()
    component_log_retention_days: int = setting_default()


PROFILES: dict[str, Profile] = {
    "dev": Profile(
        nat_gateway_per_az=False, db_multi_az=False, db_deletion_protection=False, db_final_snapshot=False,
        task_logs_destroyable=True, secret_recovery_days=0,
        scheduler_replicas=1, api_server_replicas=1, pgbouncer_replicas=1, pod_disruption_budgets=False,
        node_instance_types=("m6i.large",), node_min_size=3, node_desired_size=3, node_max_size=4,
        celery_worker_autoscaling=False, celery_worker_min_replicas=1, celery_worker_max_replicas=2,
        component_log_retention_days=30,
    ),
    "prod": Profile(
        nat_gateway_per_az=True, db_multi_az=True, db_deletion_protection=True, db_final_snapshot=True,
        task_logs_destroyable=False, secret_recovery_days=30,
        scheduler_replicas=2, api_server_replicas=2, pgbouncer_replicas=2, pod_disruption_budgets=True,
        node_instance_types=("m6i.xlarge",), node_min_size=2, node_desired_size=2, node_max_size=4,
        celery_worker_autoscaling=True, celery_worker_min_replicas=2, celery_worker_max_replicas=10,
        component_log_retention_days=365,
    ),
}

# The settings whose default the profile gives (the last block of Profile).
PROFILE_SIZED_SETTINGS = tuple(f.name for f in fields(Profile) if f.metadata.get("setting_default"))
