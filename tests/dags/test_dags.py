"""DAG integrity, end-to-end runs and the behaviour of the orders ETL.

conftest.py has already pointed Airflow at a throw-away AIRFLOW_HOME by the time this
module imports it.
"""

from __future__ import annotations

import importlib.util
import json
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from types import ModuleType

import pendulum
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.state import DagRunState, TaskInstanceState

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
EXPECTED_DAG_IDS = {"example_empty_then_bash", "etl_orders_pipeline", "validate_order_codes"}
ETL_DAG_ID = "etl_orders_pipeline"

# Fixed so outputs are reproducible and a run never depends on today's date.
LOGICAL_DATE = pendulum.datetime(2024, 6, 1, tz="UTC")
LOGICAL_DAY = date(2024, 6, 1)


def _parse(path: Path = DAGS_DIR) -> DagBag:
    return DagBag(dag_folder=str(path))  # Airflow 3.3 keeps its examples in a bundle of their own


@cache
def _shared_dagbag() -> DagBag:
    # Read-only uses share one parse; tests that modify a DAG parse their own copy.
    return _parse()


# Collected from the DAGs actually found, so a new DAG file is covered with no edit here.
ALL_DAG_IDS = sorted(_shared_dagbag().dag_ids)


def _fresh_dag(dag_id: str):
    dag = _parse().dags.get(dag_id)
    assert dag is not None, f"{dag_id} not found in {DAGS_DIR}"
    return dag


def _task_instances(dag_run) -> dict[str, object]:
    return {ti.task_id: ti for ti in dag_run.get_task_instances()}


@pytest.fixture(scope="module")
def etl() -> ModuleType:
    """The pipeline module, imported directly to reach its pure helper functions."""
    spec = importlib.util.spec_from_file_location(
        "etl_orders_pipeline_under_test", DAGS_DIR / "etl_orders_pipeline.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def etl_base_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Read by the task at run time through Airflow's environment-variable secrets backend.
    monkeypatch.setenv("AIRFLOW_VAR_ORDERS_ETL_BASE_PATH", str(tmp_path))
    return tmp_path


# --- Parsing ---------------------------------------------------------------------------


def test_dag_files_are_found():
    # Guards against a wrong DAGS_DIR turning every parametrised test below into a no-op.
    assert DAG_FILES, f"no DAG files under {DAGS_DIR}"


def test_dagbag_has_no_import_errors():
    errors = _shared_dagbag().import_errors
    assert not errors, "DAG import errors:\n" + "\n".join(f"{f}:\n{e}" for f, e in errors.items())


def test_expected_dags_are_present():
    assert EXPECTED_DAG_IDS <= set(ALL_DAG_IDS)


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_each_dag_file_parses_on_its_own(dag_file: Path):
    # The DAG processor parses files one by one: a file must not rely on another one
    # having been imported first.
    bag = _parse(dag_file)
    assert not bag.import_errors, bag.import_errors
    assert bag.dag_ids, f"{dag_file.name} defines no DAG"


# --- Hygiene ---------------------------------------------------------------------------


@pytest.mark.parametrize("dag_id", ALL_DAG_IDS)
def test_dag_hygiene(dag_id: str):
    dag = _shared_dagbag().dags[dag_id]
    assert dag.tags, "every DAG needs tags to be findable in the UI"
    assert dag.doc_md, "every DAG needs a doc_md"
    assert dag.catchup is False, "catchup would backfill every interval since start_date"
    assert dag.start_date is not None and dag.start_date.utcoffset() == timedelta(0)
    for task in dag.tasks:
        # "airflow" is the [operators] default_owner, i.e. nobody set one.
        assert task.owner and task.owner != "airflow", f"{task.task_id} has no owner"


def test_etl_pipeline_is_resilient():
    dag = _shared_dagbag().dags[ETL_DAG_ID]
    assert dag.max_active_runs == 1
    assert dag.dagrun_timeout is not None
    for task in dag.tasks:
        assert task.retries > 0, f"{task.task_id} has no retries"
        assert task.retry_delay > timedelta(0), task.task_id
        assert task.execution_timeout is not None, f"{task.task_id} can run forever"


# --- End-to-end runs -------------------------------------------------------------------


@pytest.mark.parametrize("dag_id", ALL_DAG_IDS)
def test_dag_runs_end_to_end(dag_id: str, airflow_db, etl_base_path: Path):
    dag = _fresh_dag(dag_id)
    # dag.test() waits out retry_delay between tries: fail fast instead of sleeping.
    for task in dag.tasks:
        task.retries = 0

    dag_run = dag.test(logical_date=LOGICAL_DATE)

    states = {task_id: ti.state for task_id, ti in _task_instances(dag_run).items()}
    assert states == dict.fromkeys(dag.task_ids, TaskInstanceState.SUCCESS)
    assert dag_run.state == DagRunState.SUCCESS


def test_etl_run_publishes_expected_summary_and_rerun_overwrites_it(airflow_db, etl_base_path: Path, etl):
    dag = _fresh_dag(ETL_DAG_ID)
    expected = {**etl.summarise_orders(etl.validate_orders(etl.generate_orders(LOGICAL_DAY)), LOGICAL_DAY),
                "source": "orders.example.test"}  # the host of AIRFLOW_CONN_ORDERS_SOURCE (conftest.py)
    partition = etl.summary_partition_path(etl_base_path, LOGICAL_DAY)

    assert dag.test(logical_date=LOGICAL_DATE).state == DagRunState.SUCCESS
    assert json.loads(partition.read_text()) == expected
    first_bytes = partition.read_bytes()

    # A re-run of the same logical date must replace the partition, not add to it.
    partition.write_text('{"stale": true}\n')
    assert dag.test(logical_date=LOGICAL_DATE).state == DagRunState.SUCCESS

    assert partition.read_bytes() == first_bytes
    assert [p.name for p in partition.parent.iterdir()] == ["summary.json"], "leftover temp files"
    assert [p.name for p in partition.parent.parent.iterdir()] == [f"dt={LOGICAL_DAY.isoformat()}"]


def test_etl_run_fails_on_bad_data_without_retrying_or_publishing(
    airflow_db, etl_base_path: Path, etl, monkeypatch: pytest.MonkeyPatch
):
    dag = _fresh_dag(ETL_DAG_ID)
    extract = dag.get_task("extract")
    generate = extract.python_callable.__globals__["generate_orders"]

    def generate_with_bad_rows(day, *args, **kwargs):
        rows = generate(day, *args, **kwargs)
        rows[1]["amount_cents"] = -500
        rows[2]["order_id"] = rows[0]["order_id"]
        return rows

    # Tasks run in this process under dag.test(), so patching the DAG module's globals
    # changes what extract returns.
    monkeypatch.setitem(extract.python_callable.__globals__, "generate_orders", generate_with_bad_rows)
    # Keep the retries but drop the wait, so a transform that did retry shows up as
    # try_number > 1 instead of a slow test.
    for task in dag.tasks:
        task.retry_delay = timedelta(0)

    dag_run = dag.test(logical_date=LOGICAL_DATE)

    tis = _task_instances(dag_run)
    assert dag_run.state == DagRunState.FAILED
    assert tis["extract"].state == TaskInstanceState.SUCCESS
    assert tis["transform"].state == TaskInstanceState.FAILED
    assert tis["transform"].try_number == 1, "bad data must fail fast, not use up the retries"
    assert tis["load"].state == TaskInstanceState.UPSTREAM_FAILED
    assert not etl.summary_partition_path(etl_base_path, LOGICAL_DAY).exists()


def test_etl_run_without_its_source_connection_fails_in_extract_with_airflows_error(
    airflow_db, etl_base_path: Path, etl, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
):
    """No connection anywhere Airflow searches: extract fails with Airflow's own "isn't defined"
    (airflow/sdk/execution_time/context.py `_get_connection`), nothing is published."""
    monkeypatch.delenv("AIRFLOW_CONN_ORDERS_SOURCE")
    dag = _fresh_dag(ETL_DAG_ID)
    for task in dag.tasks:
        task.retries = 0

    dag_run = dag.test(logical_date=LOGICAL_DATE)

    tis = _task_instances(dag_run)
    assert dag_run.state == DagRunState.FAILED
    assert tis["extract"].state == TaskInstanceState.FAILED
    assert tis["load"].state == TaskInstanceState.UPSTREAM_FAILED
    out, err = capfd.readouterr()  # dag.test() prints the task's log (structlog) to the console
    assert "The conn_id `orders_source` isn't defined" in out + err
    assert not etl.summary_partition_path(etl_base_path, LOGICAL_DAY).exists()


# --- Pipeline logic (no Airflow run needed) -------------------------------------------


def test_generated_orders_are_deterministic_per_day(etl):
    assert etl.generate_orders(LOGICAL_DAY) == etl.generate_orders(LOGICAL_DAY)
    assert etl.generate_orders(LOGICAL_DAY) != etl.generate_orders(LOGICAL_DAY + timedelta(days=1))


def test_generated_orders_pass_validation(etl):
    orders = etl.generate_orders(LOGICAL_DAY)
    assert len(etl.validate_orders(orders)) == len(orders) == etl.ORDERS_PER_DAY


def _break(rows: list[dict], **changes) -> list[dict]:
    rows = [dict(r) for r in rows]
    rows[3].update(changes)
    return rows


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda rows: _break(rows, amount_cents=-1), "must be positive"),
        (lambda rows: _break(rows, amount_cents=0), "must be positive"),
        (lambda rows: _break(rows, amount_cents="12.50"), "not an integer"),
        (lambda rows: _break(rows, currency="JPY"), "unknown currency"),
        (lambda rows: _break(rows, status="lost"), "unknown status"),
        (lambda rows: _break(rows, customer_id=""), "missing customer_id"),
        (lambda rows: _break(rows, order_id=rows[0]["order_id"]), "duplicate order_id"),
        (lambda rows: [], "no orders"),
    ],
    ids=["negative", "zero", "non-integer", "currency", "status", "customer", "duplicate", "empty"],
)
def test_validation_rejects_bad_orders(etl, mutate, message):
    with pytest.raises(etl.InvalidOrdersError, match=message):
        etl.validate_orders(mutate(etl.generate_orders(LOGICAL_DAY)))


def test_summary_adds_up(etl):
    orders = etl.validate_orders(etl.generate_orders(LOGICAL_DAY))
    summary = etl.summarise_orders(orders, LOGICAL_DAY)

    billable = [o for o in orders if o["status"] != "cancelled"]
    assert summary["orders_total"] == len(orders)
    assert sum(summary["orders_by_status"].values()) == len(orders)
    assert sum(c["orders"] for c in summary["by_currency"].values()) == len(billable)
    assert sum(c["revenue_cents"] for c in summary["by_currency"].values()) == sum(
        o["amount_cents"] for o in billable
    )


def test_write_summary_partition_replaces_only_its_own_day(etl, tmp_path: Path):
    day = LOGICAL_DAY.isoformat()
    other_day = (LOGICAL_DAY + timedelta(days=1)).isoformat()

    etl.write_summary_partition(tmp_path, {"date": other_day, "orders_total": 7})
    etl.write_summary_partition(tmp_path, {"date": day, "orders_total": 1})
    path = etl.write_summary_partition(tmp_path, {"date": day, "orders_total": 2})

    assert json.loads(path.read_text()) == {"date": day, "orders_total": 2}
    other = etl.summary_partition_path(tmp_path, date.fromisoformat(other_day))
    assert json.loads(other.read_text())["orders_total"] == 7
    assert sorted(p.name for p in path.parent.iterdir()) == ["summary.json"]


def test_extract_xcom_stays_small(etl):
    # XCom lives in the metadata DB; the rows must stay far below what would hurt it.
    payload = {"date": LOGICAL_DAY.isoformat(), "orders": etl.generate_orders(LOGICAL_DAY)}
    assert len(json.dumps(payload)) < 32 * 1024
