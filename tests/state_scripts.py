"""Run scripts/state_guard.py or scripts/migrate_state.py as make runs them, for tests (a module
of its own: every conftest.py is named `conftest`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from paths import REPO


def run_state_script(script: str, *args: str, root: Path, env: dict[str, str] | None = None,
                     **settings: str) -> subprocess.CompletedProcess:
    """`script`'s main() in a process of its own, with `settings` as AIRFLOW_PLATFORM_* variables
    (the caller's own are dropped) and `env` added; its project root (local state files) is `root`,
    so no test touches a state file of the checkout."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_PLATFORM_")} | (env or {})
    environ |= {f"AIRFLOW_PLATFORM_{k.upper()}": v for k, v in settings.items()}
    code = (f"import sys, pathlib; sys.path.insert(0, 'scripts'); import {script} as m; "
            f"sys.exit(m.main(sys.argv[1:], root=pathlib.Path({str(root)!r})))")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=environ, capture_output=True,
                          text=True, timeout=120)
