"""RDS for PostgreSQL's master user on a local server: the one model that tests and the apps
rehearsal share, so that nothing is proven against a PostgreSQL superuser posing as master.

    with PostgresServer(folder, superuser=RDS_ADMIN) as server:
        master = create_rds_master(server, "airflow_admin", password, db_name="airflow")
        psycopg2.connect(master.dsn())

What RDS gives its master user, and what this copies:
- "Master user account privileges" (RDS User Guide, UsingWithRDS.MasterAccounts.html) and
  "Understanding the rds_superuser role" (Appendix.PostgreSQL.CommonDBATasks.Roles.rds_superuser.html):
  the master is `CREATE ROLE ... WITH LOGIN NOSUPERUSER INHERIT CREATEDB CREATEROLE NOREPLICATION`
  and a member of `rds_superuser`, which it may grant on to others. It is not a superuser: the
  only superuser is RDS's own `rdsadmin`, which here is the server's superuser (`RDS_ADMIN`),
  used for nothing but this set-up.
- Databases, as `\\l` shows them on an RDS instance (published listings of RDS 11-16): `postgres`,
  `template1` and the database named at launch (`db_name`) belong to the master; `rdsadmin`
  (no access for PUBLIC) and `template0` belong to `rdsadmin`.
- RDS changes the master's password from outside (Secrets Manager rotation): `rotate_password`.

Where this model is not RDS: `rds_superuser` here is a plain NOLOGIN role. RDS's build lets its
members do more than PostgreSQL allows a CREATEROLE user (the master's documented privileges
include "ALTER <OBJECT> OWNER"), so the model is the stricter of the two: SQL that works here
works as RDS's master, not necessarily the other way round.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tools.local_servers.postgres import PostgresServer

RDS_ADMIN = "rdsadmin"
RDS_SUPERUSER = "rds_superuser"


@dataclass
class RdsMaster:
    server: PostgresServer
    user: str
    password: str

    def dsn(self, dbname: str = "postgres", sslmode: str | None = None) -> str:
        return self.server.dsn(user=self.user, password=self.password, dbname=dbname, sslmode=sslmode)

    def secret(self) -> str:
        """The RDS-managed master secret's value: JSON with `username` and `password`."""
        return json.dumps({"username": self.user, "password": self.password})

    def rotate_password(self, password: str) -> None:
        """What RDS's rotation of the master secret does: a new password, set from outside."""
        _as_admin(self.server, "postgres", "ALTER ROLE {} PASSWORD %s", self.user, params=(password,))
        self.password = password


def _as_admin(server: PostgresServer, dbname: str, statement: str, *names: str, params: tuple = ()) -> None:
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(server.dsn(dbname=dbname))
    try:
        conn.autocommit = True  # CREATE DATABASE refuses a transaction block
        with conn.cursor() as cur:
            cur.execute(sql.SQL(statement).format(*map(sql.Identifier, names)), params)
    finally:
        conn.close()


def create_rds_master(server: PostgresServer, user: str, password: str, db_name: str | None = None) -> RdsMaster:
    """As the server's superuser, make `user` what RDS makes its master user, and the databases
    RDS creates at launch. `db_name=None` or "postgres": no database beyond `postgres`."""
    steps = [
        ("postgres", "CREATE ROLE {} NOLOGIN", (RDS_SUPERUSER,)),
        ("postgres", "CREATE ROLE {} WITH LOGIN NOSUPERUSER INHERIT CREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS",
         (user,)),
        ("postgres", "GRANT {} TO {} WITH ADMIN OPTION", (RDS_SUPERUSER, user)),
        ("postgres", "ALTER DATABASE postgres OWNER TO {}", (user,)),
        ("postgres", "ALTER DATABASE template1 OWNER TO {}", (user,)),
        ("postgres", "CREATE DATABASE {}", (RDS_ADMIN,)),
        ("postgres", "REVOKE ALL ON DATABASE {} FROM PUBLIC", (RDS_ADMIN,)),
    ]
    if db_name and db_name != "postgres":
        steps.append(("postgres", "CREATE DATABASE {} OWNER {}", (db_name, user)))
    for dbname, statement, names in steps:
        _as_admin(server, dbname, statement, *names)
    master = RdsMaster(server, user, "")
    master.rotate_password(password)
    return master
