"""The Airflow upgrade, rehearsed on a real PostgreSQL: a metadata database made and used by the
previous version (tools/previous_airflow.py: 3.2.0 exactly as its lock had it, in a cached
virtualenv) is migrated by the new version (.venv) with the command the chart's migrate-database
Job runs, the new version runs the DAGs, and the run history survives. Then the way back:
`airflow db downgrade --to-version <previous>` with the new version, and the previous one runs.

The stand-in, and where it is not RDS:
- PostgreSQL 15 from Debian, TLS required (tools/local_servers/postgres.py), where RDS runs 16
  (`db_engine_version`). Airflow's migrations are plain DDL/DML on tables the `airflow` role
  owns; what differs between 15 and 16 for this role is in role administration (16: a
  CREATEROLE creator gets ADMIN, not SET, on the roles it creates), which the role bootstrap
  handles and tests/test_db_role_bootstrap.py proves on 18. Both 15 and 16 deny CREATE on the
  `public` schema to non-owners (https://www.postgresql.org/docs/release/15.0/, "Migration to
  Version 15": "Remove PUBLIC creation permission on the public schema"; 16 keeps it), so the
  migrations must run as the database's owner: here they do, as on RDS. The 3.3.0 migrations
  themselves (0110-0123: ADD/DROP COLUMN, CREATE TABLE/INDEX, ALTER ... TYPE ... USING on JSON)
  use nothing whose behaviour differs between 15 and 16.
- The roles are RDS's (tools/local_servers/rds_master.py): the master is no superuser, and the
  database and the `airflow` role are made by the project's own bootstrap
  (airflow_platform/db_role/bootstrap.py). Airflow connects as `airflow`, never as master.
- Airflow connects straight to PostgreSQL here; in the cluster it goes through PgBouncer
  (the apps rehearsal covers that path, on the new version only).
- The DAGs run with `airflow dags test` (in-process, the same tables a scheduler and workers
  write), not through the Celery components: the apps rehearsal runs those on the new version.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from defaults import ORDERS_SOURCE_CONNECTION
from tools.chart_render import pod_spec
from tools.local_servers.postgres import PostgresNotInstalled, PostgresServer
from tools.local_servers.rds_master import RDS_ADMIN, create_rds_master
from tools.previous_airflow import VERSION as PREVIOUS, ensure_venv

pytestmark = pytest.mark.airflow_upgrade

REPO = Path(__file__).resolve().parents[1]
NEW_BIN = REPO / ".venv" / "bin"
DATABASE, ROLE = "airflow", "airflow"
DAG_IDS = ("etl_orders_pipeline", "example_empty_then_bash")
BEFORE, AFTER, AFTER_DOWNGRADE = "2024-06-01", "2024-06-02", "2024-06-03"  # one logical date per phase
FIGURES: dict[str, float] = {}


def _timed(name: str):
    class Timer:
        def __enter__(self):
            self.started = time.monotonic()

        def __exit__(self, *exc):
            FIGURES[name] = time.monotonic() - self.started
    return Timer()


@pytest.fixture(scope="module")
def previous_bin() -> Path:
    with _timed("install previous (0 s = cached)"):
        venv, seconds = ensure_venv(say=lambda _m: None)
    FIGURES["install previous (0 s = cached)"] = seconds
    return venv / "bin"


@pytest.fixture(scope="module")
def chart_commands(rendered) -> dict[str, list[str]]:
    """What the chart runs: the migrate-database Job's container, and the wait-for-migrations
    init container every Airflow pod starts with (the scheduler's, as one of them)."""
    [job] = [j for j in rendered.of_kind("Job") if j["metadata"]["name"].endswith("-run-airflow-migrations")]
    [container] = pod_spec(job)["containers"]
    [scheduler] = [d for d in rendered.workloads() if d["metadata"]["name"].endswith("-scheduler")]
    [wait] = [c for c in pod_spec(scheduler)["initContainers"] if c["name"] == "wait-for-airflow-migrations"]
    return {"migrate": (container.get("command") or []) + container["args"], "wait": wait["args"],
            "auth_manager": [rendered.airflow_cfg()["core"]["auth_manager"]]}


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """RDS as the platform gets it: master (not superuser) and Airflow's own role via the bootstrap."""
    from airflow_platform.db_role.bootstrap import Target, bootstrap

    try:
        server = PostgresServer(tmp_path_factory.mktemp("upgrade-pg") / "cluster", superuser=RDS_ADMIN)
    except PostgresNotInstalled as err:
        pytest.fail(str(err))
    with server:
        master = create_rds_master(server, "airflow_admin", secrets.token_urlsafe(16), db_name=DATABASE)
        password = secrets.token_urlsafe(24)
        bootstrap(Target(server.host, server.port, DATABASE, ROLE), master.secret(), password)
        yield server, password


@pytest.fixture(scope="module")
def airflow_env(database, chart_commands, tmp_path_factory) -> dict[str, str]:
    server, password = database
    home = tmp_path_factory.mktemp("airflow-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            f"postgresql+psycopg2://{ROLE}:{password}@{server.host}:{server.port}/{DATABASE}?sslmode=require",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": chart_commands["auth_manager"][0],  # FAB: its tables migrate too
        "AIRFLOW__CORE__FERNET_KEY": "Yy3Xq0bVtWQqJ1jv0mC2b1rV7n5v0yH2o9Yl8rJ2K5Q=",  # pragma: allowlist secret
        "AIRFLOW_VAR_ORDERS_ETL_BASE_PATH": str(home / "orders_etl"),
        # The orders pipeline's source connection: on the platform in Secrets Manager, here
        # (both versions) through the environment backend, as tests/dags/conftest.py does.
        "AIRFLOW_CONN_ORDERS_SOURCE": ORDERS_SOURCE_CONNECTION,
    })
    return env


def airflow(bin_dir: Path, env: dict[str, str], *args: str, check: bool = True, timeout: float = 300):
    """A command as the image runs it: `airflow` (or bash) of one version first on PATH."""
    run_env = {**env, "PATH": f"{bin_dir}:{env.get('PATH', '')}", "VIRTUAL_ENV": str(bin_dir.parent)}
    cmd = list(args) if args[0] in ("bash", "airflow", str(bin_dir / "python")) else [str(bin_dir / "airflow"), *args]
    out = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=timeout, check=False)
    if check and out.returncode:
        pytest.fail(f"{' '.join(args)} ({bin_dir.parent.name}) failed ({out.returncode}):\n"
                    f"{(out.stdout + out.stderr)[-4000:]}", pytrace=False)
    return out


# `airflow dags test <dag_id> <date>` for each DAG, through Airflow's own CLI parser, in one process:
# one interpreter start and one DAG parse per phase instead of one per DAG (each is seconds of CPU).
DAGS_TEST = """
import sys
from airflow.cli.cli_parser import get_parser

logical_date, *dag_ids = sys.argv[1:]
for dag_id in dag_ids:
    args = get_parser().parse_args(["dags", "test", dag_id, logical_date])
    args.func(args)
"""


def run_dags(bin_dir: Path, env: dict[str, str], logical_date: str, dag_ids=DAG_IDS) -> None:
    airflow(bin_dir, env, str(bin_dir / "python"), "-c", DAGS_TEST, logical_date, *dag_ids)


def query(server: PostgresServer, password: str, sql: str) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(server.dsn(user=ROLE, password=password, dbname=DATABASE))
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def history(server, password) -> tuple[set, set]:
    runs = set(query(server, password, "SELECT dag_id, run_id, state, logical_date FROM dag_run"))
    tis = set(query(server, password, "SELECT dag_id, run_id, task_id, map_index, state, try_number FROM task_instance"))
    return runs, tis


def revision(server, password) -> str:
    [(rev,)] = query(server, password, "SELECT version_num FROM alembic_version")
    return rev


def installed(bin_dir: Path, env: dict[str, str], *code: str) -> list[str]:
    """The words a version's Python prints (the test's AIRFLOW_HOME: importing Airflow writes a config there)."""
    out = subprocess.run([str(bin_dir / "python"), "-c", ";".join(code)], capture_output=True, text=True, check=True,
                         env=env)
    return out.stdout.split()


def by_phase(runs: set, day: str) -> set:
    return {r for r in runs if str(r[3].date()) == day}


def test_upgrade_keeps_the_run_history_and_the_downgrade_lets_the_previous_version_run(
        previous_bin, chart_commands, database, airflow_env, capsys):
    server, password = database
    env = airflow_env
    [previous] = installed(previous_bin, env, "from importlib.metadata import version", "print(version('apache-airflow-core'))")
    # Airflow's own map of release -> alembic head, from the new version's source (what --to-version reads)
    new, heads = installed(NEW_BIN, env, "import json", "from airflow import __version__ as v",
                           "from airflow.utils.db import _REVISION_HEADS_MAP as m", "print(v, json.dumps(m, separators=(',', ':')))")
    head = json.loads(heads)
    assert previous == PREVIOUS and new != PREVIOUS
    assert head[PREVIOUS], f"{new} knows no alembic head for {PREVIOUS}"

    # 1. The previous version makes the database and runs every DAG: the history to keep.
    with _timed(f"{PREVIOUS}: migrate + run the DAGs"):
        airflow(previous_bin, env, *chart_commands["migrate"])
        run_dags(previous_bin, env, BEFORE)
    assert revision(server, password) == head[PREVIOUS]
    runs_before, tis_before = history(server, password)
    assert {(r[0], r[2]) for r in runs_before} == {(d, "success") for d in DAG_IDS}
    assert tis_before and {t[4] for t in tis_before} == {"success"}

    # 2. The new version's migrate-database Job, exactly as the chart renders it.
    with _timed(f"{new}: the chart's migrate job"):
        airflow(NEW_BIN, env, *chart_commands["migrate"])
    migrated = revision(server, password)
    assert migrated != head[PREVIOUS] and migrated == max(head.items(), key=lambda kv: _key(kv[0]))[1]
    runs, tis = history(server, password)
    assert runs_before <= runs and tis_before <= tis, "the migration lost or changed run history"

    # What `atomic` rolls back to: the previous image's pods wait for migrations they do not know.
    wait = [a if not a.startswith("--migration-wait-timeout") else "--migration-wait-timeout=1"
            for a in chart_commands["wait"]]
    stuck = airflow(previous_bin, env, *wait, check=False)
    assert stuck.returncode != 0 and migrated in stuck.stdout + stuck.stderr
    refusal = next(line for line in (stuck.stdout + stuck.stderr).splitlines() if "unapplied migrations" in line)
    # ... and the previous revision's migrate Job, re-created by the rollback, fails too.
    rerun = airflow(previous_bin, env, *chart_commands["migrate"], check=False)
    assert rerun.returncode != 0 and f"Can't locate revision identified by '{migrated}'" in rerun.stdout + rerun.stderr
    assert revision(server, password) == migrated

    # 3. The new version's pods start (their init container) and run the DAGs on the migrated history.
    with _timed(f"{new}: wait-for-migrations + run the DAGs"):
        airflow(NEW_BIN, env, *chart_commands["wait"])
        run_dags(NEW_BIN, env, AFTER)
    runs, tis = history(server, password)
    assert runs_before <= runs and tis_before <= tis
    assert {(r[0], r[2]) for r in by_phase(runs, AFTER)} == {(d, "success") for d in DAG_IDS}

    # 4. The way back: the new version downgrades to the previous release's head; the previous runs.
    with _timed(f"{new}: db downgrade --to-version {PREVIOUS}"):
        airflow(NEW_BIN, env, "db", "downgrade", "--to-version", PREVIOUS, "--yes")
    assert revision(server, password) == head[PREVIOUS]
    with _timed(f"{PREVIOUS}: wait-for-migrations + run the DAGs"):
        airflow(previous_bin, env, *chart_commands["wait"])
        run_dags(previous_bin, env, AFTER_DOWNGRADE, dag_ids=DAG_IDS[-1:])
    runs_after, tis_after = history(server, password)
    assert runs <= runs_after and tis <= tis_after, "the downgrade lost run history"
    assert {(r[0], r[2]) for r in by_phase(runs_after, AFTER_DOWNGRADE)} == {(DAG_IDS[-1], "success")}

    with capsys.disabled():
        print(f"\nAirflow upgrade {PREVIOUS} -> {new}: {len(runs_after)} runs, {len(tis_after)} task instances kept; "
              + ", ".join(f"{k} {v:.0f} s" for k, v in FIGURES.items()) + f"\nthe previous version's pods: {refusal}")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))
