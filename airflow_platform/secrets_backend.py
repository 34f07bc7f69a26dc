"""Where Airflow finds connections and variables in AWS Secrets Manager, and which components look.

Plain data, shared by the infra stack (the tasks role may read these names) and the apps
stack (the backend is configured where lookups happen), so the two agree.

Which components look, read in Airflow 3.3.2's own source:
- A task's process (task runner, `SUPERVISOR_COMMS` set) builds its search path from
  `[workers] secrets_backend` (falling back to `[secrets] backend`), then the environment
  (`AIRFLOW_CONN_*`, `AIRFLOW_VAR_*`), then the Execution API: `airflow/sdk/execution_time/
  supervisor.py` `ensure_secrets_backend_loaded()` (client context) with
  `airflow/sdk/execution_time/secrets/__init__.py` `DEFAULT_SECRETS_SEARCH_PATH_WORKERS`,
  and `airflow/_shared/configuration/parser.py` `_get_custom_secret_backend(worker_mode=True)`.
  So the task calls Secrets Manager itself, as the worker pod's role.
- The triggerer's trigger runner subprocess marks itself a client (`_AIRFLOW_PROCESS_CONTEXT=client`,
  `airflow/jobs/triggerer_job_runner.py` `TriggerRunner.run`): the same worker search path.
- The Execution API (API server) answers what the task did not find with
  `Connection.get_connection_from_secrets` (`airflow/api_fastapi/execution_api/routes/
  connections.py`), i.e. the server path `[secrets] backend`, environment, metadata database
  (`airflow/secrets/__init__.py` `DEFAULT_SECRETS_SEARCH_PATH`). `[secrets] backend` stays
  unset, so the API server, scheduler and dag-processor manager never call Secrets Manager.
- The dag-processor's parse subprocess is a client too (`airflow/dag_processing/processor.py`
  `_parse_file_entrypoint`): DAG top-level code would use `[workers] secrets_backend` if its
  pod had it. Its pod does not: parsing reads no secret from AWS (DAGs read connections and
  variables at run time, in tasks or templates), and DAG files run with no AWS role.
"""

from __future__ import annotations

import json

BACKEND_CLASS = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
# The chart's value key of each component whose pods run task or trigger code.
LOOKUP_COMPONENTS = ("worker", "triggerer")


def connections_prefix(prefix: str) -> str:
    """`<prefix>/airflow/connections`: the secret `<this>/<conn_id>` is the connection `conn_id`."""
    return f"{prefix}/airflow/connections"


def variables_prefix(prefix: str) -> str:
    return f"{prefix}/airflow/variables"


def backend_kwargs(prefix: str, region: str) -> dict:
    # config_prefix null: no configuration option is read from Secrets Manager (one call fewer per option).
    return {"connections_prefix": connections_prefix(prefix), "variables_prefix": variables_prefix(prefix),
            "config_prefix": None, "region_name": region}


def backend_env(prefix: str, region: str) -> list[dict[str, str]]:
    """The env of the components in LOOKUP_COMPONENTS: `[workers] secrets_backend` (not `[secrets]
    backend`, which would make the API server and scheduler call Secrets Manager too)."""
    return [
        {"name": "AIRFLOW__WORKERS__SECRETS_BACKEND", "value": BACKEND_CLASS},
        {"name": "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS",
         "value": json.dumps(backend_kwargs(prefix, region), sort_keys=True)},
    ]
