"""requirements.txt (the team's packages, baked into the image by the Dockerfile), installed for
the places that run Airflow from the project's .venv instead of the image: the apps rehearsal and
the DAG tests.

The shared .venv is never changed: the packages go into a folder of their own (`pip install
--target`), put on PYTHONPATH (and sys.path) of whatever imports the DAGs. pip resolves them
constrained to the versions .venv holds, as the image build constrains them to Airflow's
constraints file: a requirement that would move a package the environment already has fails
here, with pip's message. The folder is a cache keyed by requirements.txt and those versions.

What it cannot prove: .venv is not the image (STANDINS.md): a package the image carries and .venv
does not (or the reverse) passes here and fails there. tests/test_team_image.py resolves
requirements.txt against the image's Airflow.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements.txt"


class RequirementsError(RuntimeError):
    pass


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "airflow-platform" / "requirements"


def environment_pins() -> str:
    """`name==version` of every distribution this interpreter sees (the .venv), sorted."""
    pins = {f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions() if d.metadata["Name"]}
    return "".join(f"{p}\n" for p in sorted(pins, key=str.lower))


def install(requirements: Path = REQUIREMENTS, root: Path | None = None) -> Path:
    """The folder holding requirements.txt's packages (installed on first use); raise
    RequirementsError with pip's words when they cannot be installed beside this environment."""
    pins = environment_pins()
    text = requirements.read_text()
    key = hashlib.sha256((sys.version + "\0" + text + "\0" + pins).encode()).hexdigest()[:16]
    target = (root or cache_root()) / key
    done = target / ".installed"
    if done.is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    constraints = target.parent / f"{key}.constraints.txt"
    constraints.write_text(pins)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
               "--target", str(target), "--upgrade", "--constraint", str(constraints), "--requirement", str(requirements)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RequirementsError(f"requirements.txt cannot be installed beside the project's environment "
                                f"(`{' '.join(command)}`):\n{result.stderr.strip()[-3000:]}")
    done.write_text(text)
    return target


def with_pythonpath(env: dict[str, str], folder: Path) -> dict[str, str]:
    """`env` with `folder` first on PYTHONPATH."""
    rest = env.get("PYTHONPATH", "")
    return {**env, "PYTHONPATH": str(folder) + (os.pathsep + rest if rest else "")}
