"""Airflow's own database role, made by airflow_platform/db_role/bootstrap.py against a real
PostgreSQL that requires TLS (tools/local_servers/postgres.py), as the bootstrap Job does on RDS."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from airflow_platform.db_role import bootstrap as b
from tools.local_servers.postgres import PostgresServer

ROLE, DB = "airflow", "airflow_meta"


def master_secret(pg: PostgresServer) -> str:
    return json.dumps({"username": pg.superuser, "password": pg.password})


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    with PostgresServer(tmp_path_factory.mktemp("pg-role") / "cluster") as server:
        conn = psycopg2.connect(server.dsn())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE other")
            # An installation from before this role: the metadata DB exists, with the master's tables.
            cur.execute(f"CREATE DATABASE {DB}")
        conn.close()
        with psycopg2.connect(server.dsn(dbname=DB)) as conn, conn.cursor() as cur:
            cur.execute("CREATE TYPE legacy_state AS ENUM ('a', 'b'); "
                        "CREATE TABLE legacy (id serial PRIMARY KEY, s legacy_state); "
                        "CREATE SEQUENCE legacy_free; CREATE VIEW legacy_view AS SELECT id FROM legacy")
        conn.close()
        with psycopg2.connect(server.dsn(dbname="other")) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE private_data (v text); INSERT INTO private_data VALUES ('not for airflow')")
        conn.close()
        yield server


@pytest.fixture(scope="module")
def target(pg):
    return b.Target(host=pg.host, port=pg.port, database=DB, role=ROLE)


@pytest.fixture(scope="module")
def password():
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def bootstrapped(pg, target, password):
    """Twice, then again after the master password changed (as RDS rotation does)."""
    first = b.bootstrap(target, master_secret(pg), password)
    second = b.bootstrap(target, master_secret(pg), password)
    pg.set_superuser_password(secrets.token_urlsafe(24))
    third = b.bootstrap(target, master_secret(pg), password)
    return first, second, third


def as_airflow(pg, password, dbname=DB):
    return psycopg2.connect(pg.dsn(user=ROLE, password=password, dbname=dbname))


def test_first_run_creates_the_role_and_database_later_runs_change_nothing_else(bootstrapped):
    first, second, third = bootstrapped
    assert f"created role {ROLE} (password set)" in first
    assert f"database {DB}: owner postgres -> {ROLE}" in first
    assert "revoked CONNECT on other from PUBLIC" in first
    assert f"gave 4 objects of the master user in {DB} to {ROLE}" in first  # table, free sequence, view, type
    assert second == [f"updated role {ROLE} (password set)"] + [x for x in second if x.startswith("revoked")]
    assert not [x for x in second + third if "created" in x or "owner" in x or "gave" in x]


def test_the_master_objects_of_an_older_installation_now_belong_to_the_role(pg, bootstrapped):
    with psycopg2.connect(pg.dsn(dbname=DB)) as conn, conn.cursor() as cur:
        cur.execute("SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
                    "WHERE c.relname LIKE 'legacy%%' AND c.relkind IN ('r', 'S', 'v') ORDER BY 1")
        assert cur.fetchall() == [("legacy", ROLE), ("legacy_free", ROLE), ("legacy_id_seq", ROLE),
                                  ("legacy_view", ROLE)]
        cur.execute("SELECT pg_get_userbyid(typowner) FROM pg_type WHERE typname = 'legacy_state'")
        assert cur.fetchone() == (ROLE,)
    conn.close()


def test_a_new_database_is_created_owned_by_the_role(pg):
    target = b.Target(host=pg.host, port=pg.port, database="fresh_meta", role="fresh_role")
    done = b.bootstrap(target, master_secret(pg), secrets.token_urlsafe(24))
    assert "created database fresh_meta" in done and "created role fresh_role (password set)" in done


def test_the_role_is_least_privileged_and_owns_its_database(pg, bootstrapped):
    with psycopg2.connect(pg.dsn()) as conn, conn.cursor() as cur:
        cur.execute("SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
                    "FROM pg_roles WHERE rolname = %s", (ROLE,))
        assert cur.fetchone() == (True, False, False, False, False, False)
        cur.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (DB,))
        assert cur.fetchone() == (ROLE,)
        cur.execute("SELECT rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = %s", (ROLE,))
        assert cur.fetchone() == (True,)
    conn.close()


def test_the_role_logs_in_over_tls_only(pg, password, bootstrapped):
    conn = as_airflow(pg, password)
    with conn.cursor() as cur:
        cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cur.fetchone() == (True,)
    conn.close()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(pg.dsn(user=ROLE, password=password, dbname=DB, sslmode="disable"))


def test_the_role_cannot_create_roles_or_databases(pg, password, bootstrapped):
    conn = as_airflow(pg, password)
    conn.autocommit = True
    with conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE ROLE intruder LOGIN")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE DATABASE intruder")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("ALTER ROLE airflow CREATEROLE")
    conn.close()


@pytest.mark.parametrize("dbname", ["other", "postgres"])
def test_the_role_cannot_reach_other_databases(pg, password, bootstrapped, dbname):
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        as_airflow(pg, password, dbname=dbname)


def test_a_new_password_replaces_the_old_one(pg, target, bootstrapped, password):
    new = secrets.token_urlsafe(24)
    try:
        b.bootstrap(target, master_secret(pg), new)
        as_airflow(pg, new).close()
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            as_airflow(pg, password)
    finally:
        b.bootstrap(target, master_secret(pg), password)


def test_airflow_db_migrate_runs_as_the_role(pg, password, bootstrapped, tmp_path):
    """Airflow's whole schema is created by the role alone, over TLS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            f"postgresql+psycopg2://{ROLE}:{password}@{pg.host}:{pg.port}/{DB}?sslmode=require",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    }
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run([str(airflow), "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert password not in output
    assert result.returncode == 0, output[-3000:]
    conn = as_airflow(pg, password)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s", (ROLE,))
        assert cur.fetchone()[0] > 50
        cur.execute("SELECT version_num FROM alembic_version")
        assert cur.fetchone()[0]
    conn.close()


# --- pure functions ---------------------------------------------------------------------------

def test_scram_verifier_matches_postgres_format():
    v = b.scram_verifier("pencil", salt=b"0123456789abcdef")
    assert v.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")
    assert "pencil" not in v


def test_bad_settings_are_named():
    with pytest.raises(b.BootstrapError, match="AIRFLOW_DB_ROLE must be a PostgreSQL identifier"):
        b.Target(host="h", port=5432, database="airflow", role="air-flow; DROP")
    with pytest.raises(b.BootstrapError, match="missing environment: DB_HOST"):
        b.read_env({})
    with pytest.raises(b.BootstrapError, match="DB_PORT must be a number"):
        b.read_env({k: "x" for k in b.REQUIRED_ENV})


def test_a_malformed_master_secret_is_not_echoed():
    with pytest.raises(b.BootstrapError) as e:
        b.master_credentials("hunter2-not-json")
    assert "hunter2" not in str(e.value)


def test_plain_text_is_refused(pg, target):
    with pytest.raises(b.BootstrapError, match="sslmode must require TLS"):
        b.connect(target, "x", "y", sslmode="disable")
