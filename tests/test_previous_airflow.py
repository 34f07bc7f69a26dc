"""The previous Airflow environment is the previous lock, exactly (tools/previous_airflow.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools.previous_airflow import (CONSTRAINTS, LOCK_COMMIT, VERSION, PreviousAirflowError, constraints_from_lock,
                                    lock_at, pins, requirement, requirement_from_lock)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def previous_lock() -> dict:
    if subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{LOCK_COMMIT}^{{commit}}"],
                      capture_output=True, check=False).returncode:
        pytest.skip(f"{LOCK_COMMIT} is not in this clone (a shallow checkout): the committed constraints stand")
    return lock_at(LOCK_COMMIT, REPO)


def test_the_committed_constraints_are_the_previous_lock(previous_lock):
    assert CONSTRAINTS.read_text() == constraints_from_lock(previous_lock), \
        "run `python -m tools.previous_airflow --regenerate`"


def test_the_requirement_is_the_previous_locks_airflow_line(previous_lock):
    assert requirement() == requirement_from_lock(previous_lock) == f"apache-airflow[amazon,celery,fab,postgres]=={VERSION}"


def test_the_constraints_pin_the_previous_airflow():
    locked = pins(CONSTRAINTS.read_text())
    assert locked["apache-airflow"] == locked["apache-airflow-core"] == VERSION


def test_a_package_locked_twice_differently_is_refused():
    lock = {"default": {"six": {"version": "==1.16.0"}}, "develop": {"six": {"version": "==1.17.0"}}}
    with pytest.raises(PreviousAirflowError, match="six is locked twice"):
        constraints_from_lock(lock)
    with pytest.raises(PreviousAirflowError, match="no version"):
        constraints_from_lock({"default": {"x": {"git": "https://example.invalid/x.git"}}})
