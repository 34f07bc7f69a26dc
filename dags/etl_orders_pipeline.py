"""
### Orders daily ETL

An extract -> transform -> load pipeline configured as production pipelines are: where
its data comes from is the Airflow connection `orders_source`, where it goes is the
Airflow Variable `orders_etl_base_path`. On the platform both live in AWS Secrets Manager
(`<prefix>/airflow/connections/orders_source`, `<prefix>/airflow/variables/orders_etl_base_path`,
see docs/pipelines.md); locally, environment variables (`AIRFLOW_CONN_ORDERS_SOURCE`,
`AIRFLOW_VAR_ORDERS_ETL_BASE_PATH`) or the metadata database serve. It needs no network
and no extra packages: the source system is simulated.

* **extract**: looks up the source connection (a missing one fails the task with Airflow's
  "The conn_id `orders_source` isn't defined"), then simulates that source system: returns
  the orders of the run's logical date (deterministic: same date, same orders), tagged
  with the source's host.
* **transform**: validates the orders (the run fails without retrying on bad data)
  and aggregates them into a small per-currency summary.
* **load**: writes the summary as JSON to the date's partition, replacing it
  atomically, so re-running a date overwrites rather than duplicates:
  `<base path>/orders_daily_summary/dt=YYYY-MM-DD/summary.json`.

Nothing but XCom passes between the tasks, so they need no shared disk: with the
Celery or Kubernetes executor, consecutive tasks often run on different workers. That
is fine for a day of a hundred small rows; at real volumes, land the rows in object
storage and pass the key instead.

The base path is required: a run without `orders_etl_base_path` fails in `load` rather
than writing somewhere nobody looks. Point it at a volume shared by the workers for
output that should be found in one place and outlive the worker.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import dag, task

DAG_ID = "etl_orders_pipeline"

BASE_PATH_VARIABLE = "orders_etl_base_path"
SOURCE_CONN_ID = "orders_source"

# Kept small on purpose: the rows travel through XCom (the metadata DB).
ORDERS_PER_DAY = 100
STATUSES = ("placed", "shipped", "cancelled")
CURRENCIES = ("EUR", "GBP", "USD")


class InvalidOrdersError(ValueError):
    """The raw orders of a day break the contract the pipeline relies on."""


# --- Pure helpers: no Airflow context needed, so they are unit-testable directly. ----


def generate_orders(day: date, count: int = ORDERS_PER_DAY) -> list[dict[str, Any]]:
    """Orders of ``day`` as the source system would return them."""
    # A str seed is hashed with SHA-512, so the output is stable across processes
    # and Python runs (unlike hash()), which is what makes re-runs reproducible.
    rng = random.Random(f"orders-{day.isoformat()}")
    return [
        {
            "order_id": f"{day:%Y%m%d}-{i:05d}",
            "customer_id": f"C{rng.randint(1, 500):04d}",
            "status": rng.choices(STATUSES, weights=(60, 35, 5))[0],
            "currency": rng.choice(CURRENCIES),
            # Integer cents: sums are exact and identical on every run.
            "amount_cents": rng.randint(199, 49_999),
        }
        for i in range(count)
    ]


def _atomic_write_text(path: Path, text: str) -> None:
    # Write beside the target then rename: readers never see a half-written file and
    # a retry after a crash simply replaces whatever was there.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def validate_orders(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return typed copies of ``rows``; raise InvalidOrdersError listing what is wrong."""
    if not rows:
        raise InvalidOrdersError("no orders for the day: refusing to publish an empty summary")

    errors: list[str] = []
    seen: set[str] = set()
    clean: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=1):
        order_id = str(row.get("order_id") or "").strip()
        if not order_id:
            errors.append(f"row {n}: missing order_id")
        elif order_id in seen:
            errors.append(f"row {n}: duplicate order_id {order_id}")
        seen.add(order_id)
        if not str(row.get("customer_id") or "").strip():
            errors.append(f"row {n}: missing customer_id")
        if row.get("status") not in STATUSES:
            errors.append(f"row {n}: unknown status {row.get('status')!r}")
        if row.get("currency") not in CURRENCIES:
            errors.append(f"row {n}: unknown currency {row.get('currency')!r}")
        try:
            amount = int(row.get("amount_cents"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            errors.append(f"row {n}: amount_cents is not an integer: {row.get('amount_cents')!r}")
            amount = 0
        else:
            if amount <= 0:
                errors.append(f"row {n}: amount_cents must be positive, got {amount}")
        clean.append({**row, "order_id": order_id, "amount_cents": amount})

    if errors:
        shown = "; ".join(errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise InvalidOrdersError(f"{len(errors)} invalid order row(s): {shown}{more}")
    return clean


def summarise_orders(orders: list[dict[str, Any]], day: date) -> dict[str, Any]:
    """Aggregate validated orders; the result is small enough for XCom."""
    by_currency: dict[str, dict[str, int]] = {}
    for cur in CURRENCIES:
        billable = [o for o in orders if o["currency"] == cur and o["status"] != "cancelled"]
        by_currency[cur] = {
            "orders": len(billable),
            "revenue_cents": sum(o["amount_cents"] for o in billable),
        }
    status_counts = Counter(o["status"] for o in orders)
    return {
        "date": day.isoformat(),
        "orders_total": len(orders),
        "orders_by_status": {s: status_counts.get(s, 0) for s in STATUSES},
        "distinct_customers": len({o["customer_id"] for o in orders}),
        "by_currency": by_currency,
    }


def summary_partition_path(base: Path, day: date) -> Path:
    return base / "orders_daily_summary" / f"dt={day.isoformat()}" / "summary.json"


def write_summary_partition(base: Path, summary: dict[str, Any]) -> Path:
    """Write the summary of its day, replacing any previous version of that partition."""
    path = summary_partition_path(base, date.fromisoformat(summary["date"]))
    # sort_keys + fixed indent: identical input gives byte-identical output.
    _atomic_write_text(path, json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return path


# --- Airflow glue. --------------------------------------------------------------------


def _base_path() -> Path:
    # Read at run time, never at parse time: a Variable lookup during parsing would hit
    # the metadata DB / API on every parse of this file.
    from airflow.sdk import Variable

    return Path(Variable.get(BASE_PATH_VARIABLE))


def _source_host() -> str:
    # At run time too: the worker's secrets backends (Secrets Manager, then the environment,
    # then the metadata database through the API server) are searched for it.
    from airflow.sdk import Connection

    conn = Connection.get(SOURCE_CONN_ID)
    if not conn.host:
        raise ValueError(f"connection {SOURCE_CONN_ID} has no host: it must name the orders source system")
    return conn.host


def _partition_day(context: Any) -> date:
    # Airflow 3 allows runs without a logical date (manual triggers); fall back to the
    # moment the run was due so such runs still land in a sensible partition.
    when = context.get("logical_date") or context["dag_run"].run_after
    return pendulum.instance(when).in_timezone("UTC").date()


@dag(
    dag_id=DAG_ID,
    description="Daily orders ETL: extract -> validate/aggregate -> idempotent partition load.",
    doc_md=__doc__,
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    # No backfill of every day since start_date when the DAG is first deployed/unpaused.
    catchup=False,
    # Runs write shared paths; one at a time keeps "latest run wins" meaningful.
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        # A float multiplier in Airflow 3 (True would mean x1, i.e. no backoff).
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        # Each step handles a hundred rows; anything this slow is stuck.
        "execution_timeout": timedelta(minutes=5),
    },
    tags=["etl", "orders", "example"],
)
def etl_orders_pipeline():
    # The rows are the payload, not a result worth a log line per run.
    @task(show_return_value_in_logs=False)
    def extract() -> dict[str, Any]:
        from airflow.sdk import get_current_context

        day = _partition_day(get_current_context())
        return {"date": day.isoformat(), "source": _source_host(), "orders": generate_orders(day)}

    @task
    def transform(extracted: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        try:
            orders = validate_orders(extracted["orders"])
        except InvalidOrdersError as exc:
            # Bad data does not fix itself: fail now instead of burning the retries.
            raise AirflowFailException(str(exc)) from exc
        return {**summarise_orders(orders, date.fromisoformat(extracted["date"])), "source": extracted["source"]}

    # Shorter timeout than the default: it writes one small file.
    @task(execution_timeout=timedelta(minutes=2))
    def load(summary: dict[str, Any]) -> str:
        return str(write_summary_partition(_base_path(), summary))

    load(transform(extract()))


etl_orders_pipeline()
