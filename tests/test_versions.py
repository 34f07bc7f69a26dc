"""The versions a deploy creates in AWS are creatable and in standard support today, and the
docs/versions.md's version table says what `airflow_platform/versions.py` says."""

from __future__ import annotations

from datetime import date

import pytest

from airflow_platform.settings import SettingsError
from airflow_platform.versions import EKS_STANDARD_SUPPORT_ENDS, PINNED, eks_support_warning, expired
from defaults import settings_without_env
from paths import REPO


def pinned(what: str) -> str:
    [version] = [v.version for v in PINNED if v.what.startswith(what)]
    return version


def test_defaults_are_the_pinned_versions():
    s = settings_without_env()
    assert (s.eks_version, s.db_engine_version, s.chart_version, s.airflow_image_tag) == (
        pinned("EKS"), pinned("RDS"), pinned("Apache Airflow Helm chart"), pinned("Airflow image"))


def test_the_default_cluster_is_in_standard_support_today():
    version = settings_without_env().eks_version
    assert version in EKS_STANDARD_SUPPORT_ENDS, f"{version} has no support dates in versions.py"
    assert EKS_STANDARD_SUPPORT_ENDS[version] > date.today(), (
        f"EKS {version} left standard support on {EKS_STANDARD_SUPPORT_ENDS[version]}: a new cluster "
        "would run on extended support, six times the price")
    assert eks_support_warning(version, date.today()) is None


def test_nothing_a_deploy_creates_is_past_its_support():
    assert expired(date.today()) == []


def test_the_default_database_version_is_a_major_that_rds_keeps_current():
    """A pinned minor (16.8) stops being creatable when RDS deprecates it (16.5-16.8: new
    instances refused since 2026-05-01). A major with automatic minor upgrades never does,
    and never drifts the plan."""
    s = settings_without_env()
    assert s.db_engine_version.isdigit(), s.db_engine_version


@pytest.mark.parametrize("setting, value, message", [
    ("eks_version", "1.35.2", "use a Kubernetes minor version such as 1.35"),
    ("eks_version", "v1.35", "use a Kubernetes minor version such as 1.35"),
    ("eks_version", "2", "use a Kubernetes minor version such as 1.35"),
    ("db_engine_version", "16.8", "use a PostgreSQL major version from 13 to 17"),
    ("db_engine_version", "12", "use a PostgreSQL major version from 13 to 17"),
    ("db_engine_version", "sixteen", "use a PostgreSQL major version from 13 to 17"),
])
def test_settings_reject_versions_that_cannot_be_right(setting, value, message):
    with pytest.raises(SettingsError) as err:
        settings_without_env(**{setting: value})
    assert any(p.startswith(f"{setting}: {value!r} is not allowed") and message in p for p in err.value.problems), \
        err.value.problems


def test_an_eks_version_out_of_standard_support_is_warned_about():
    assert "extended support" in eks_support_warning("1.33", date(2026, 11, 24))
    assert "not in this platform's table" in eks_support_warning("1.40", date(2026, 11, 24))


def test_the_docs_version_table_matches():
    readme = (REPO / "docs" / "versions.md").read_text()
    for v in PINNED:
        ends = v.end_of_support.isoformat() if v.end_of_support else "not announced"
        row = f"| {v.what} | {v.version} | {ends} |"
        assert row in readme, f"docs/versions.md's version table lacks: {row}"
