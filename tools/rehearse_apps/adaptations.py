"""What the local servers lack compared with the chart's images, adapted in this one place.

Each adaptation is printed when it is applied. Nothing here hides a defect of the rendered
configuration: an adaptation only stands in for a capability that configuration enables.

PgBouncer prepared statements. Airflow 3.2 on SQLAlchemy 2.1 talks to PostgreSQL with
psycopg 3 (and asyncpg for async sessions), and both use named prepared statements. Through
PgBouncer in transaction mode that needs protocol-level prepared statement support: PgBouncer
1.21 or later *and* `max_prepared_statements` > 0 (the default is 0 up to 1.23, the chart's
image; 200 from 1.24). Without it, the first repeated query fails with
`prepared statement "_pg3_0" already exists`, locally as on the cluster.

The distributions ship PgBouncer 1.18 (Debian 12), which has no such support and refuses the
setting. So, only when the rendered pgbouncer.ini sets `max_prepared_statements` > 0 and the
local PgBouncer is older than 1.21: the setting is removed from the local copy of
pgbouncer.ini, and Airflow's clients are told not to prepare statements (what the cluster's
PgBouncer would have made safe). When pgbouncer.ini does not enable them, nothing is adapted
and the run fails as the cluster would.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from dataclasses import dataclass, field

PREPARED_STATEMENTS_SINCE = (1, 21)
CLIENT_MODULE = "rehearse_local_pgbouncer"
CLIENT_MODULE_TEXT = '''"""Written by tools/rehearse_apps/adaptations.py: no prepared statements (local PgBouncer < 1.21)."""
import uuid

SYNC_CONNECT_ARGS = {"prepare_threshold": None}
ASYNC_CONNECT_ARGS = {"statement_cache_size": 0,
                      "prepared_statement_name_func": lambda: f"__rehearsal_{uuid.uuid4().hex}__"}
'''


@dataclass
class Adaptations:
    notes: list[str] = field(default_factory=list)
    airflow_env: dict[str, str] = field(default_factory=dict)
    airflow_files: dict[str, str] = field(default_factory=dict)  # path under /opt/airflow -> text


def local_pgbouncer_version() -> tuple[int, ...]:
    out = subprocess.run([shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", "--version"], capture_output=True,
                         text=True, timeout=10).stdout
    match = re.search(r"PgBouncer (\d+)\.(\d+)(?:\.(\d+))?", out)
    if not match:
        raise RuntimeError(f"cannot read the PgBouncer version from {out!r}")
    return tuple(int(g or 0) for g in match.groups())


def max_prepared_statements(ini: str) -> int:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(ini)
    return int(parser.get("pgbouncer", "max_prepared_statements", fallback="0") or 0)


def adapt(secrets: dict[str, dict[str, str]]) -> Adaptations:
    """Adapt `secrets` in place (the local copy only); return what Airflow's pods need beside."""
    result = Adaptations()
    version = local_pgbouncer_version()
    for name, data in secrets.items():
        ini = data.get("pgbouncer.ini")
        if ini is None or version >= PREPARED_STATEMENTS_SINCE or max_prepared_statements(ini) == 0:
            continue
        data["pgbouncer.ini"] = re.sub(r"(?m)^\s*max_prepared_statements\s*=.*\n?", "", ini)
        result.airflow_files[f"config/{CLIENT_MODULE}.py"] = CLIENT_MODULE_TEXT
        result.airflow_env.update({
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": f"{CLIENT_MODULE}.SYNC_CONNECT_ARGS",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": f"{CLIENT_MODULE}.ASYNC_CONNECT_ARGS",
            "AIRFLOW__CELERY__RESULT_BACKEND_SQLALCHEMY_ENGINE_OPTIONS": '{"connect_args": {"prepare_threshold": null}}',
        })
        result.notes.append(
            f"ADAPTED: local PgBouncer {'.'.join(map(str, version))} has no prepared statements (needs >= 1.21); "
            f"{name}'s pgbouncer.ini enables them (max_prepared_statements = {max_prepared_statements(ini)}), so the "
            "setting is dropped locally and Airflow's clients do not prepare statements")
    return result
