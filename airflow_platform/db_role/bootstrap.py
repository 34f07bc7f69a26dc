"""Creates or updates Airflow's own PostgreSQL role and database, idempotently, over TLS.

Runs in the apps stack's bootstrap Job (image apache/airflow: python, psycopg2, boto3),
shipped in a ConfigMap, before the chart. It reads the RDS-managed master credentials and
the Airflow role's password from Secrets Manager (IRSA), connects as master with TLS
required, and makes sure that:

- the role exists with LOGIN and none of SUPERUSER, CREATEDB, CREATEROLE, REPLICATION,
  BYPASSRLS, and the password now in Secrets Manager (sent as a SCRAM-SHA-256 verifier, so
  the plain password never reaches the server, its logs or pg_stat_statements);
- the metadata database exists and the role owns it (so it owns the `public` schema's
  content it creates, and `airflow db migrate` can run as it);
- PUBLIC cannot CONNECT to any other database the master may administer, nor to the
  metadata database; only the role can;
- objects in the metadata database that the master user owns (tables, views, sequences,
  enum types: what `airflow db migrate` created back when Airflow used the master user)
  now belong to the role, so an existing installation keeps migrating.

RDS's master user is not a superuser (RDS User Guide, "Master user account privileges"):
LOGIN CREATEROLE CREATEDB, a member of `rds_superuser`, owner of the database RDS creates at
launch. So:
- an existing role's attributes are read, never blindly restated: only a superuser may name
  SUPERUSER, REPLICATION or BYPASSRLS in ALTER ROLE, even to turn them off (PostgreSQL, ALTER
  ROLE). The role loses CREATEDB/CREATEROLE if it has them; if it has one of the three the
  master cannot remove, the run stops with an error naming them;
- giving the role a database or an object needs the master to be able to SET ROLE to it
  (ALTER DATABASE / ALTER TABLE, "OWNER TO"): from PostgreSQL 16 the creator of a role gets
  only ADMIN OPTION on it (`createrole_self_grant` is empty by default), so the master grants
  itself the role WITH INHERIT TRUE, SET TRUE; before 16 a plain membership is what counts.

Rotation safety: the password of an existing role is changed LAST, after every other step
(attributes, membership, ownership, grants, revokes, adopting the master's objects) has
succeeded. A run that fails anywhere earlier leaves the old password in place, so PgBouncer,
which still holds it, keeps working. A new role is created with its password: nothing holds
an older one.

Nothing here prints a secret: the only output is what was done, by name.
Environment: DB_HOST, DB_PORT, DB_NAME, AIRFLOW_DB_ROLE, MASTER_SECRET_ARN,
AIRFLOW_DB_PASSWORD_SECRET_ARN (Secrets Manager ARNs), AWS_REGION (from IRSA).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
from dataclasses import dataclass

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
SCRAM_ITERATIONS = 4096
# Databases the bootstrap never touches: templates are not connectable by default, and
# RDS's own administrative database belongs to AWS.
UNTOUCHED = frozenset({"template0", "rdsadmin"})
REQUIRED_ENV = ("DB_HOST", "DB_PORT", "DB_NAME", "AIRFLOW_DB_ROLE", "MASTER_SECRET_ARN",
                "AIRFLOW_DB_PASSWORD_SECRET_ARN")


class BootstrapError(RuntimeError):
    pass


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    database: str
    role: str

    def __post_init__(self) -> None:
        for setting, value in (("DB_NAME", self.database), ("AIRFLOW_DB_ROLE", self.role)):
            if not IDENT.match(value):
                raise BootstrapError(f"{setting} must be a PostgreSQL identifier (letter or _, then "
                                     f"letters, digits, _; at most 63), got {value!r}")


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802 / 7677)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def master_credentials(secret_string: str) -> tuple[str, str]:
    """(username, password) of an RDS-managed master secret: JSON with those two keys."""
    try:
        data = json.loads(secret_string)
        return data["username"], data["password"]
    except (ValueError, KeyError, TypeError):
        # Never echo the value: say only what shape was expected.
        raise BootstrapError("the master secret is not JSON with `username` and `password`") from None


# Attributes Airflow's role must not have, as pg_roles names them.
EXCESS = {"rolsuper": "SUPERUSER", "rolcreatedb": "CREATEDB", "rolcreaterole": "CREATEROLE",
          "rolreplication": "REPLICATION", "rolbypassrls": "BYPASSRLS"}
# Only a superuser may name these in ALTER ROLE, on every version (PostgreSQL, ALTER ROLE).
SUPERUSER_ONLY = frozenset({"SUPERUSER", "REPLICATION", "BYPASSRLS"})


@dataclass(frozen=True)
class Master:
    name: str
    superuser: bool
    createdb: bool
    createrole: bool
    server_version: int  # server_version_num, e.g. 150018

    def may_remove(self, attribute: str) -> bool:
        """Whether ALTER ROLE ... NO<attribute> is allowed: a CREATEROLE user may drop CREATEDB or
        CREATEROLE from a role it administers (from 16, CREATEDB only if it has CREATEDB itself);
        the others are a superuser's."""
        if self.superuser:
            return True
        if attribute in SUPERUSER_ONLY or not self.createrole:
            return False
        return attribute != "CREATEDB" or self.createdb or self.server_version < 160000


def read_master(cur) -> Master:
    cur.execute("SELECT current_user, rolsuper, rolcreatedb, rolcreaterole, current_setting('server_version_num')::int "
                "FROM pg_roles WHERE rolname = current_user")
    return Master(*cur.fetchone())


def ensure_role_and_database(conn, target: Target, password: str) -> tuple[list[str], bool]:
    """On an open master connection: every step but the password of an existing role.

    Returns what it did (no secrets) and whether it created the role (then with `password`)."""
    from psycopg2 import sql

    check_password(password)
    conn.autocommit = True
    done: list[str] = []
    role, db = sql.Identifier(target.role), sql.Identifier(target.database)
    with conn.cursor() as cur:
        master = read_master(cur)
        if master.name == target.role:
            raise BootstrapError(f"AIRFLOW_DB_ROLE {target.role!r} is the master user: Airflow needs its own role")
        cur.execute("SELECT rolcanlogin, " + ", ".join(EXCESS) + " FROM pg_roles WHERE rolname = %s", (target.role,))
        row = cur.fetchone()
        created = row is None
        if created:
            # CREATE ROLE may name the NO- forms: only their positive forms need a superuser.
            cur.execute(sql.SQL("CREATE ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                                "NOBYPASSRLS INHERIT PASSWORD %s").format(role), (scram_verifier(password),))
            done.append(f"created role {target.role} (password set)")
        else:
            done += fix_attributes(cur, master, target.role, row)
        done += let_master_set_role(cur, master, target.role)
        cur.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (target.database,))
        row = cur.fetchone()
        if row is None:
            cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, role))
            done.append(f"created database {target.database}")
        elif row[0] != target.role:
            cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, role))
            done.append(f"database {target.database}: owner {row[0]} -> {target.role}")
        cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        cur.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(db, role))
        # Every other database whose owner's privileges the master holds: no CONNECT for PUBLIC
        # (the role included). REVOKE needs the owner's privileges, i.e. USAGE of the owner role.
        cur.execute(
            "SELECT datname FROM pg_database WHERE datname <> %s AND datallowconn "
            "AND (%s OR pg_has_role(current_user, datdba, 'USAGE')) ORDER BY datname",
            (target.database, master.superuser))
        for (other,) in cur.fetchall():
            if other in UNTOUCHED:
                continue
            cur.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(other)))
            done.append(f"revoked CONNECT on {other} from PUBLIC")
    return done, created


def check_password(password: str) -> None:
    if not password or len(password) < 16:
        raise BootstrapError("the Airflow role's password must have at least 16 characters")


def fix_attributes(cur, master: Master, role_name: str, row: tuple) -> list[str]:
    """An existing role: LOGIN, and none of EXCESS. Names only what must change, and only what
    the master may change; stops on what it may not."""
    from psycopg2 import sql

    can_login, *flags = row
    excess = [EXCESS[column] for column, on in zip(EXCESS, flags) if on]
    stuck = [a for a in excess if not master.may_remove(a)]
    if stuck:
        raise BootstrapError(
            f"role {role_name!r} has {', '.join(stuck)}, which the master user {master.name!r} may not remove "
            f"(only a PostgreSQL superuser may; on RDS no user is one): remove them as a superuser, or set "
            f"AIRFLOW_DB_ROLE to a new role name, which the bootstrap then creates without them")
    changes = ([] if can_login else ["LOGIN"]) + [f"NO{a}" for a in excess]
    if not changes:
        return []
    cur.execute(sql.SQL("ALTER ROLE {} WITH " + " ".join(changes)).format(sql.Identifier(role_name)))
    return [f"role {role_name}: {' '.join(changes)}"]


def let_master_set_role(cur, master: Master, role_name: str) -> list[str]:
    """Make the master able to SET ROLE to the role and use its privileges, which giving the role a
    database or an object (OWNER TO) and revoking on its database need."""
    from psycopg2 import sql

    if master.superuser:
        return []
    if master.server_version >= 160000:
        # pg_has_role(..., 'MEMBER') is already true through the ADMIN OPTION the creator gets;
        # what OWNER TO checks is SET, and what REVOKE on the role's database needs is USAGE.
        cur.execute("SELECT pg_has_role(current_user, %s, 'SET') AND pg_has_role(current_user, %s, 'USAGE')",
                    (role_name, role_name))
        grant = sql.SQL("GRANT {} TO {} WITH INHERIT TRUE, SET TRUE")
    else:
        cur.execute("SELECT pg_has_role(current_user, %s, 'USAGE')", (role_name,))
        grant = sql.SQL("GRANT {} TO {}")
    if cur.fetchone()[0]:
        return []
    cur.execute(grant.format(sql.Identifier(role_name), sql.Identifier(master.name)))
    return [f"granted {role_name} to {master.name}"]


def set_password(conn, target: Target, password: str) -> list[str]:
    """The last step on an existing role: its new password (the same one again is harmless)."""
    from psycopg2 import sql

    check_password(password)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD %s").format(sql.Identifier(target.role)),
                    (scram_verifier(password),))
    return [f"set the password of role {target.role}"]


# Relations owned by the master in the metadata database, except sequences owned by a
# column (they follow their table). ALTER TABLE works for every relation kind listed.
MASTER_OBJECTS = """
SELECT 'TABLE' AS kind, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
  AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                       AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
UNION ALL
SELECT 'TYPE', n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND t.typtype = 'e'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2, 3
"""


def adopt_master_objects(conn, target: Target) -> list[str]:
    """On a master connection to the metadata database: give the master's objects to the role."""
    from psycopg2 import sql

    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(MASTER_OBJECTS)
        objects = cur.fetchall()
        for kind, schema, name in objects:
            cur.execute(sql.SQL("ALTER {} {}.{} OWNER TO {}").format(
                sql.SQL(kind), sql.Identifier(schema), sql.Identifier(name), sql.Identifier(target.role)))
    return [f"gave {len(objects)} objects of the master user in {target.database} to {target.role}"] if objects else []


def connect(target: Target, user: str, password: str, *, dbname: str = "postgres", sslmode: str = "require"):
    import psycopg2

    if sslmode not in ("require", "verify-ca", "verify-full"):
        raise BootstrapError(f"sslmode must require TLS, got {sslmode!r}")
    return psycopg2.connect(host=target.host, port=target.port, dbname=dbname, user=user, password=password,
                            sslmode=sslmode, connect_timeout=10, application_name="airflow-db-role-bootstrap")


def run_steps(open_master, target: Target, password: str) -> list[str]:
    """Every step in order, on master connections that `open_master(dbname)` opens; the password
    of an existing role last. Returns what was done."""
    check_password(password)
    conn = open_master("postgres")
    try:
        done, created = ensure_role_and_database(conn, target, password)
    finally:
        conn.close()
    conn = open_master(target.database)
    try:
        done += adopt_master_objects(conn, target)
        if not created:
            done += set_password(conn, target, password)
    finally:
        conn.close()
    return done


def bootstrap(target: Target, master_secret: str, airflow_password: str) -> list[str]:
    """Connect as master with TLS and ensure the role and database. Returns what was done."""
    user, password = master_credentials(master_secret)
    return run_steps(lambda dbname: connect(target, user, password, dbname=dbname), target, airflow_password)


def read_env(environ: dict[str, str]) -> Target:
    missing = [k for k in REQUIRED_ENV if not environ.get(k)]
    if missing:
        raise BootstrapError(f"missing environment: {', '.join(missing)}")
    try:
        port = int(environ["DB_PORT"])
    except ValueError:
        raise BootstrapError(f"DB_PORT must be a number, got {environ['DB_PORT']!r}") from None
    return Target(host=environ["DB_HOST"], port=port, database=environ["DB_NAME"], role=environ["AIRFLOW_DB_ROLE"])


def main(environ: dict[str, str] | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    try:
        target = read_env(environ)
        import boto3

        sm = boto3.client("secretsmanager")
        master = sm.get_secret_value(SecretId=environ["MASTER_SECRET_ARN"])["SecretString"]
        airflow_password = sm.get_secret_value(SecretId=environ["AIRFLOW_DB_PASSWORD_SECRET_ARN"])["SecretString"]
        for line in bootstrap(target, master, airflow_password):
            print(line, flush=True)
    except BootstrapError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
