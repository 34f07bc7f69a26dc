"""The orders pipeline's connection and variable, from moto's Secrets Manager, as the platform keeps them.

The rehearsal seeds `<connections_prefix>/orders_source` (JSON form) and
`<variables_prefix>/orders_etl_base_path` under the prefixes the rendered workers are
configured with (`AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS`), encrypted with a key of the
platform's alias. The orders DAG must then (1) run on them: its `transform` carries the
connection's host and its `load` wrote under the variable's path; and (2) with the
connection's secret deleted, fail in `extract` with Airflow's own "isn't defined".

Where moto 5.2.5 differs from AWS for what the backend calls (`GetSecretValue` by name,
`providers/amazon/aws/secrets/secrets_manager.py` `_get_secret_value`), and so what this
cannot prove:
- KMS: AWS decrypts a secret under a customer-managed key with the caller's own
  `kms:Decrypt` on that key, through Secrets Manager (Secrets Manager User Guide, "Secret
  encryption and decryption in AWS Secrets Manager"); moto stores `KmsKeyId` and never
  asks KMS. Whether the tasks role may decrypt is proved on the IAM policies instead
  (tests/test_airflow_roles.py, tests/test_role_permissions.py).
- Permissions: moto authorizes nothing here (static test credentials stand in for IRSA);
  an AccessDeniedException is not among the errors the backend catches, so on AWS a
  missing grant is logged at debug and the lookup falls through to the next backend.
- Names and deletion: the backend passes the secret's name as `SecretId`, which AWS and moto
  both resolve by exact name. A secret deleted with `ForceDeleteWithoutRecovery` answers
  ResourceNotFoundException on AWS (Secrets Manager API Reference, DeleteSecret and
  GetSecretValue, "Errors") and in moto; one merely scheduled for deletion answers
  InvalidRequestException on AWS. The backend returns None on both, so the search goes on
  to the next backend either way.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable

from tools.chart_render import Rendered, container_env
from tools.rehearse_apps.traffic import ApiClient, TrafficError

DAG_ID = "etl_orders_pipeline"
CONN_ID = "orders_source"
VARIABLE = "orders_etl_base_path"
SOURCE_HOST = "orders-api.rehearsal.internal"
NOT_DEFINED = f"The conn_id `{CONN_ID}` isn't defined"


@dataclass(frozen=True)
class Prefixes:
    connections: str
    variables: str


def _worker_env(rendered: Rendered, worker: str) -> dict[str, str]:
    return container_env(next(w for w in rendered.workloads() if w["metadata"]["name"] == worker))


def worker_base_path(rendered: Rendered, worker: str = "airflow-worker") -> str:
    """Where the seeded Variable points the pipeline: under the worker's AIRFLOW_HOME (the chart's
    `airflowHome`), which the rehearsal gives each pod in its own folder, as a pod has its own
    filesystem; so nothing is written outside the rehearsal's run folder."""
    return f"{_worker_env(rendered, worker)['AIRFLOW_HOME']}/orders-from-secrets-manager"


def worker_prefixes(rendered: Rendered, worker: str = "airflow-worker") -> Prefixes:
    """The Secrets Manager prefixes the rendered workers search, or a TrafficError saying they search none."""
    env = _worker_env(rendered, worker)
    if "AIRFLOW__WORKERS__SECRETS_BACKEND" not in env:
        raise TrafficError(f"{worker} has no AIRFLOW__WORKERS__SECRETS_BACKEND: task code would never read "
                           "connections and variables from Secrets Manager")
    kwargs = json.loads(env.get("AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS") or "{}")
    return Prefixes(kwargs["connections_prefix"], kwargs["variables_prefix"])


def seed(sm, kms, prefixes: Prefixes, key_alias: str, base_path: str) -> dict[str, str]:
    """Create the connection and the variable (`base_path`), encrypted with a key under `key_alias`; their names."""
    key = kms.create_key(Description="stands for the platform's secrets key")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=key_alias, TargetKeyId=key)
    names = {"connection": f"{prefixes.connections}/{CONN_ID}", "variable": f"{prefixes.variables}/{VARIABLE}"}
    sm.create_secret(Name=names["connection"], KmsKeyId=key_alias,
                     SecretString=json.dumps({"conn_type": "http", "host": SOURCE_HOST}))
    sm.create_secret(Name=names["variable"], KmsKeyId=key_alias, SecretString=base_path)
    return names


def _xcom(api: ApiClient, run_id: str, task_id: str) -> str:
    entry = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}"
                               "/xcomEntries/return_value")
    return json.dumps(entry["value"])


def check_read_from_secrets_manager(api: ApiClient, run_ids: set[str], base_path: str) -> str:
    """Every run's transform carries the seeded host, and its load wrote under the seeded path."""
    for run_id in sorted(run_ids):
        if SOURCE_HOST not in _xcom(api, run_id, "transform"):
            raise TrafficError(f"{DAG_ID} {run_id}: transform's summary does not name the source {SOURCE_HOST} "
                               "of the connection seeded in Secrets Manager")
        if base_path not in _xcom(api, run_id, "load"):
            raise TrafficError(f"{DAG_ID} {run_id}: load did not write under {base_path}, the Variable seeded "
                               "in Secrets Manager")
    return f"{len(run_ids)} run(s) read {CONN_ID} and {VARIABLE} from Secrets Manager"


def check_missing_connection_fails(api: ApiClient, sm, connection_secret: str, timeout: float,
                                   check: Callable[[], None]) -> str:
    """Delete the connection's secret; a new run's extract fails with Airflow's "isn't defined"
    (its first try: the task retries, and the rehearsal does not wait the retries out)."""
    sm.delete_secret(SecretId=connection_secret, ForceDeleteWithoutRecovery=True)
    run_id = api.trigger(DAG_ID)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        [ti] = [t for t in api.task_instances(DAG_ID) if t["dag_run_id"] == run_id and t["task_id"] == "extract"] \
            or [{}]
        if ti.get("state") in ("up_for_retry", "failed"):
            break
        if ti.get("state") == "success":
            raise TrafficError(f"{DAG_ID} {run_id}: extract succeeded with its connection's secret deleted")
        time.sleep(1)
    else:
        raise TrafficError(f"{DAG_ID} {run_id}: extract did not fail within {timeout:.0f} s without its connection")
    log = ""
    while time.monotonic() < deadline and NOT_DEFINED not in log:  # the log reaches S3 as the try ends
        log = json.dumps(api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/extract/logs/1"
                                            "?full_content=true"))
        time.sleep(1)
    if NOT_DEFINED not in log:
        raise TrafficError(f"{DAG_ID} {run_id}: extract failed, but its log lacks {NOT_DEFINED!r}: {log[-1500:]}")
    return f"without its secret, extract failed: {NOT_DEFINED}"
