"""The KEDA ScaledObject's query, as the prod chart renders it, run where KEDA runs it: against
Airflow's real schema (`airflow db migrate`) on a real PostgreSQL with TLS required
(tools/local_servers/postgres.py, standing in for RDS), through a real PgBouncer in transaction
mode with the apps stack's own pgbouncer.ini (KEDA connects with the worker's
AIRFLOW_CONN_AIRFLOW_DB, i.e. to PgBouncer: `workers.keda.usePgbouncer`).

The dev profile, which the apps rehearsal runs, has no KEDA: this is where the query runs.

What KEDA does with the value (KEDA docs, PostgreSQL scaler and "Scaling Deployments"): the
trigger's metric is of type AverageValue with target `targetQueryValue`, so the HPA asks for
ceil(value / targetQueryValue) replicas, within minReplicaCount..maxReplicaCount; while the
value is at most `activationTargetQueryValue` (default 0) the scaler is inactive and the
workers stay at minReplicaCount.

What it cannot prove: KEDA's Go driver (pgx) talks the extended protocol, psycopg2 here the
simple one; the cluster's PgBouncer image (1.23, `max_prepared_statements` set) supports the
prepared statements pgx may use, the local 1.18 does not (tools/rehearse_apps/adaptations.py
drops the setting here, as the rehearsal does).
"""

from __future__ import annotations

import configparser
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2
import pytest

from tf_json import resources
from tools.local_servers.postgres import DEFAULT_USER, PostgresServer, ensure_system_user, free_port
from tools.rehearse_apps.adaptations import adapt

pytestmark = pytest.mark.real_servers  # starts PostgreSQL/PgBouncer: not in `make test-fast`

ROLE, DB = "airflow", "airflow_meta"
# Task instances by state: only queued and running are work the workers have or will have.
STATES = {"queued": 20, "running": 13, "scheduled": 16, "success": 30, "failed": 4, "up_for_retry": 3}


@pytest.fixture(scope="module")
def scaled_object(rendered_prod) -> dict:
    [scaled] = rendered_prod.of_kind("ScaledObject")
    return scaled


@pytest.fixture(scope="module")
def worker_concurrency(rendered_prod) -> int:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(rendered_prod.get("ConfigMap", f"{rendered_prod.release_name}-config")["data"]["airflow.cfg"])
    return parser.getint("celery", "worker_concurrency")


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """PostgreSQL with Airflow's schema, migrated by the role Airflow uses; started once."""
    password = secrets.token_urlsafe(24)
    with PostgresServer(tmp_path_factory.mktemp("keda-pg") / "cluster") as pg:
        conn = psycopg2.connect(pg.dsn())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD %s", (password,))
            cur.execute(f"CREATE DATABASE {DB} OWNER {ROLE}")
        conn.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env |= {"AIRFLOW_HOME": str(tmp_path_factory.mktemp("keda-airflow-home")),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
                    f"postgresql+psycopg2://{ROLE}:{password}@{pg.host}:{pg.port}/{DB}?sslmode=require",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}
        airflow = Path(sys.executable).with_name("airflow")
        result = subprocess.run([str(airflow), "db", "migrate"], env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        yield pg, password


def pgbouncer_ini(apps: dict) -> str:
    """The pgbouncer.ini the apps stack writes into its Secret (Terraform expressions inside)."""
    [ini] = [s["data_wo"]["pgbouncer.ini"] for s in resources(apps, "kubernetes_secret_v1").values()
             if "pgbouncer.ini" in s.get("data_wo", {})]
    return ini


@pytest.fixture(scope="module")
def pgbouncer(database, synth_prod):
    """PgBouncer with the prod apps stack's pgbouncer.ini, its Terraform references filled with
    this server (what Terraform would write), on a free loopback port; started once."""
    pg, password = database
    ini = pgbouncer_ini(synth_prod.apps)
    ini = re.sub(r"\$\{[^}]*address\}", pg.host, ini)
    ini = re.sub(r"\$\{[^}]*db_name\}", DB, ini)
    ini = re.sub(r"\$\{[^}]*port\}", str(pg.port), ini)
    assert "${" not in ini, f"an unfilled Terraform reference in pgbouncer.ini: {ini}"
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(ini)
    assert parser.get("pgbouncer", "pool_mode") == "transaction"  # as KEDA meets it on the cluster
    secrets_ = {"pgbouncer-config": {"pgbouncer.ini": ini}}
    for note in adapt(secrets_).notes:
        print(note)
    ini = secrets_["pgbouncer-config"]["pgbouncer.ini"]
    folder = Path(tempfile.mkdtemp(prefix="keda-pgbouncer-"))
    port = free_port("127.0.0.1")
    ini = re.sub(r"(?m)^listen_port = .*$", f"listen_port = {port}", ini)
    ini = re.sub(r"(?m)^listen_addr = .*$", "listen_addr = 127.0.0.1", ini)
    ini = re.sub(r"(?m)^auth_file = .*$", f"auth_file = {folder / 'users.txt'}", ini)
    ini = ini.replace("[pgbouncer]", f"[pgbouncer]\nunix_socket_dir =\nlogfile = {folder / 'pgbouncer.log'}", 1)
    (folder / "pgbouncer.ini").write_text(ini)
    (folder / "users.txt").write_text(f'"{ROLE}" "{password}"\n')
    command = [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user = ensure_system_user(DEFAULT_USER)
        os.chmod(folder, 0o700)
        for path in [folder, *folder.iterdir()]:
            os.chown(path, user.pw_uid, user.pw_gid)
        command = ["runuser", "-u", DEFAULT_USER, "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        dsn = f"host=127.0.0.1 port={port} dbname=airflow-metadata user={ROLE} password={password} sslmode=disable"
        deadline = time.monotonic() + 20
        while True:
            try:
                psycopg2.connect(dsn).close()
                break
            except psycopg2.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PgBouncer did not start: {process.stdout.read() if process.stdout else ''}"
                                       f"{(folder / 'pgbouncer.log').read_text() if (folder / 'pgbouncer.log').exists() else ''}")
                time.sleep(0.2)
        yield dsn
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def set_task_instances(pg: PostgresServer, counts: dict[str, int]) -> None:
    """Rows in the real task_instance table, in the given states. As the superuser, with
    foreign keys and triggers off for the session (session_replication_role = replica): the
    query reads task_instance alone, so no DAG, run or version rows are needed."""
    conn = psycopg2.connect(pg.dsn(dbname=DB))
    with conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("DELETE FROM task_instance")
        cur.execute("""SELECT column_name, data_type FROM information_schema.columns
                       WHERE table_name = 'task_instance' AND is_nullable = 'NO' AND column_default IS NULL""")
        required = dict(cur.fetchall())
        n = 0
        for state, count in counts.items():
            for _ in range(count):
                n += 1
                row = {column: filler(column, kind, n) for column, kind in required.items()}
                # Airflow's default queue ([operators] default_queue), which the chart's query names
                row |= {"state": state, "queue": "default"}
                columns = ", ".join(row)
                cur.execute(f"INSERT INTO task_instance ({columns}) VALUES ({', '.join(['%s'] * len(row))})",
                            list(row.values()))
    conn.close()


def filler(column: str, kind: str, n: int):
    """A value of the column's type, unique per row where a key needs it."""
    if kind == "uuid":
        return str(uuid.uuid4())
    if kind in ("integer", "bigint", "smallint"):
        return -1 if column == "map_index" else n
    if kind.startswith("timestamp"):
        return "2026-01-01T00:00:00+00:00"
    if kind in ("double precision", "real", "numeric"):
        return 0
    if kind == "boolean":
        return False
    if kind in ("json", "jsonb"):
        return "{}"
    if kind == "bytea":
        return b""
    return f"{column}-{n}"


def query_value(dsn: str, query: str) -> float:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            (value,) = cur.fetchone()
        return float(value or 0)
    finally:
        conn.close()


def keda_replicas(value: float, trigger: dict, scaled: dict) -> int:
    """What KEDA and the HPA ask for (module docstring)."""
    activation = float(trigger["metadata"].get("activationTargetQueryValue", 0))
    low, high = scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]
    if value <= activation:
        return low
    return max(low, min(high, math.ceil(value / float(trigger["metadata"]["targetQueryValue"]))))


@pytest.mark.parametrize("counts", [STATES, {"queued": 200, "running": 40}, {"success": 9, "scheduled": 5}],
                         ids=["mixed", "beyond-max", "nothing-to-do"])
def test_the_rendered_query_counts_queued_and_running_tasks_through_pgbouncer(
        database, pgbouncer, scaled_object, worker_concurrency, counts):
    pg, _ = database
    [trigger] = scaled_object["spec"]["triggers"]
    assert trigger["type"] == "postgresql" and trigger["metadata"]["connectionFromEnv"] == "AIRFLOW_CONN_AIRFLOW_DB"
    set_task_instances(pg, counts)
    value = query_value(pgbouncer, trigger["metadata"]["query"])
    busy = counts.get("queued", 0) + counts.get("running", 0)
    # workers needed: one per `worker_concurrency` queued or running tasks
    assert value == math.ceil(busy / worker_concurrency), (
        f"the query returned {value} for {counts}; queued + running = {busy}, worker_concurrency {worker_concurrency}")
    expected = max(2, min(10, math.ceil(busy / worker_concurrency)))  # the prod profile's 2..10 workers
    assert keda_replicas(value, trigger, scaled_object) == expected
