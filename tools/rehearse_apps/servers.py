"""The servers that are not pods of the chart: PostgreSQL with TLS (RDS); and what must be installed.

PgBouncer and Redis are pods of the chart: they run from their rendered containers
(`components.py`), with the Secrets the apps stack writes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tools.local_servers.postgres import PostgresNotInstalled, PostgresServer, find_bindir
from tools.local_servers.rds_master import RDS_ADMIN, create_rds_master

PACKAGES = {
    "pgbouncer": "pgbouncer (Debian/Ubuntu: apt-get install pgbouncer; macOS: brew install pgbouncer)",
    "redis-server": "redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)",
    "terraform": "terraform >= 1.11 on PATH",
    "git": "git",
}


class MissingServer(RuntimeError):
    """A server or tool the rehearsal needs is not installed; the message says how to install it."""


def check_installed(airflow: Path) -> None:
    missing = [hint for tool, hint in PACKAGES.items() if not shutil.which(tool, path=_search_path())]
    try:
        find_bindir()
    except PostgresNotInstalled as err:
        missing.append(str(err))
    if not airflow.is_file():
        missing.append(f"Airflow in the project's virtualenv ({airflow}): run `make setup`")
    if missing:
        raise MissingServer("the apps rehearsal cannot run; missing:\n  - " + "\n  - ".join(missing))


def _search_path() -> str:
    return os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


def start_postgres(folder: Path, host: str, port: int, user: str, password: str, database: str) -> PostgresServer:
    """RDS with rds.force_ssl: TLS-only; `user` is RDS's master user as RDS makes it (not a
    superuser: tools/local_servers/rds_master.py), owner of the database made at launch."""
    server = PostgresServer(folder, host=host, port=port, superuser=RDS_ADMIN)
    server.__enter__()
    try:
        create_rds_master(server, user, password, db_name=database)
    except BaseException:
        server.stop()
        raise
    return server
