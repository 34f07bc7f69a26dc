"""The Airflow the cluster runs (the image tag) is the Airflow the tests run (the lock, .venv)."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def locked(name: str) -> str:
    lock = json.loads((REPO / "Pipfile.lock").read_text())
    entry = lock["develop"].get(name) or lock["default"][name]
    assert entry["version"].startswith("=="), entry
    return entry["version"][2:]


def test_the_image_tag_is_the_locked_and_installed_airflow():
    tag = json.loads((REPO / "cdktf.json").read_text())["context"]["airflow_image_tag"]
    assert tag == locked("apache-airflow") == locked("apache-airflow-core"), \
        "move `airflow_image_tag` (cdktf.json) and `apache-airflow` (Pipfile, then `pipenv lock`) together"
    assert metadata.version("apache-airflow-core") == tag, "the virtualenv is not synced to the lock: `make setup`"
