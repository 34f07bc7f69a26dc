"""Isolated Airflow environment for the DAG tests.

Airflow reads its configuration once, when ``airflow`` is first imported, so the
environment has to be fixed here, at conftest import time, before any test module
imports Airflow. Everything (config, sqlite metadata DB, logs, pipeline output) lives
in a throw-away AIRFLOW_HOME, so the tests never touch a developer's ~/airflow.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO_ROOT / "dags"

if "airflow" in sys.modules:
    # Too late to isolate: the config (and DB URL) of whoever imported it first is live.
    raise pytest.UsageError(
        "airflow was imported before tests/dags/conftest.py could isolate it; "
        "do not import airflow from a parent conftest or plugin"
    )

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-tests-"))

# The DAGs import the team's packages (requirements.txt), which the image carries and the shared
# .venv does not: installed into a cache folder of their own (tools/team_requirements.py), put on
# sys.path for parsing here and on PYTHONPATH for any task process.
sys.path.insert(0, str(REPO_ROOT))
from tools.team_requirements import install, with_pythonpath  # noqa: E402

from defaults import ORDERS_SOURCE_CONNECTION  # noqa: E402  (tests/, as every conftest sees it)

_REQUIREMENTS_DIR = install()
sys.path.insert(0, str(_REQUIREMENTS_DIR))
os.environ.update(with_pythonpath(dict(os.environ), _REQUIREMENTS_DIR))

# Drop inherited Airflow settings (a developer's executor, secrets backend, connections,
# variables...) so results do not depend on the shell the tests run from.
for _name in list(os.environ):
    if _name.startswith(("AIRFLOW__", "AIRFLOW_VAR_", "AIRFLOW_CONN_")) or _name == "AIRFLOW_CONFIG":
        del os.environ[_name]

os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        # Pipeline output; tests that inspect it point it at their own tmp_path.
        "AIRFLOW_VAR_ORDERS_ETL_BASE_PATH": str(_AIRFLOW_HOME / "orders_etl"),
        # The orders source, as the environment-variable backend reads it (JSON form): on the
        # platform the same connection is a secret under <prefix>/airflow/connections/, read
        # by the worker's Secrets Manager backend first (docs/pipelines.md). Every search path
        # of Airflow 3 holds the environment backend, so dag.test() finds it here.
        "AIRFLOW_CONN_ORDERS_SOURCE": ORDERS_SOURCE_CONNECTION,
    }
)
# unit_test_mode is deliberately not enabled: it loads Airflow's own unit_tests.cfg,
# which changes production defaults (e.g. create_cron_data_intervals=True) that the
# DAGs should be tested against.


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db(_one_execution_api_app) -> None:
    """A fresh metadata DB and a working Execution API: what dag.test() needs.

    DagBag parsing needs neither, so parse-only tests do not request this.
    """
    # dag.test() runs tasks through the in-process Execution API (FastAPI); a
    # fastapi/pydantic release that Airflow does not support breaks every task with a
    # traceback buried in the task log. Fail once, clearly, instead.
    try:
        import airflow.api_fastapi.execution_api.routes  # noqa: F401
    except Exception as exc:
        problem = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    else:
        problem = None
    if problem:
        import fastapi
        import pydantic

        pytest.fail(
            "Airflow's Execution API cannot be imported, so no task can run under "
            f"dag.test() (fastapi {fastapi.__version__}, pydantic {pydantic.VERSION}): "
            f"{problem}. Airflow 3.2.0 broke with fastapi 0.156.1 onwards "
            "(at least up to 0.163.2); 3.3 bounds fastapi below 0.137: check the pin.",
            pytrace=False,
        )

    from airflow.utils import db

    # On an empty DB, initdb creates the schema from the ORM models and stamps the
    # alembic head, which is much faster than replaying every migration.
    db.initdb()


@pytest.fixture(scope="session")
def _one_execution_api_app():
    """Share one in-process Execution API app between all dag.test() task runs.

    Airflow 3.2 builds a new FastAPI app (about 2 s) and an a2wsgi event-loop thread for
    every task dag.test() runs, and never frees them: the suite got slower test after
    test and the interpreter spent 10+ s in garbage collection at exit. The app is
    stateless between requests (dag.test() overrides its DagBag per task), so one
    instance serves them all. If Airflow renames the hook, tests just run slower.
    """
    from airflow.sdk.execution_time import supervisor

    original = getattr(supervisor, "in_process_api_server", None)
    if original is None:
        yield
        return
    shared = original()
    supervisor.in_process_api_server = lambda: shared
    try:
        yield
    finally:
        supervisor.in_process_api_server = original
