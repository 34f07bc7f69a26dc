"""Names both stacks must agree on: the Helm release and the service accounts it creates.

The infra stack trusts these service accounts in its IAM role (IRSA); the apps stack
annotates them with that role. Keeping them here keeps the two sides in step.
"""

RELEASE_NAME = "airflow"

# The chart names each component's service account `<release>-<component>`. Each of these gets
# its own, named service account; the infra stack's AirflowRoles decides which carries a role.
AIRFLOW_COMPONENTS = ("worker", "scheduler", "triggerer", "dag-processor", "api-server")


def service_account_name(component: str) -> str:
    return f"{RELEASE_NAME}-{component}"

# The Job that creates and maintains Airflow's own PostgreSQL role, and the role's name.
DB_BOOTSTRAP_SERVICE_ACCOUNT = f"{RELEASE_NAME}-db-role-bootstrap"
AIRFLOW_DB_ROLE = "airflow"
