"""The one profile table: docs/settings.md states it, the stacks and the chart values follow it."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest

from airflow_platform.profiles import PROFILE_SIZED_SETTINGS, PROFILES, Profile
from airflow_platform.settings import SETTING_NAMES
from paths import REPO
from tf_json import release_values, resources


def cell(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ", ".join(f"`{item}`" for item in value)
    return str(value)


def readme_profile_rows() -> dict[str, tuple[str, str]]:
    readme = (REPO / "docs" / "settings.md").read_text()
    section = readme[readme.index("What `profile` switches"):readme.index("## State")]
    return {m[1]: (m[2].strip(), m[3].strip())
            for m in re.finditer(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \| ([^|]+) \|$", section, re.MULTILINE)}


def test_readme_profile_table_is_the_profile_table():
    expected = {f.name: (cell(getattr(PROFILES["dev"], f.name)), cell(getattr(PROFILES["prod"], f.name)))
                for f in fields(Profile)}
    assert readme_profile_rows() == expected


def test_profile_sized_defaults_are_settings_and_the_rest_are_choices():
    assert set(PROFILE_SIZED_SETTINGS) <= set(SETTING_NAMES)
    choices = {f.name for f in fields(Profile)} - set(PROFILE_SIZED_SETTINGS)
    assert choices and not choices & set(SETTING_NAMES)
    assert set(PROFILES) == {"dev", "prod"}


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_the_stacks_follow_the_profile_table(profile, synth, synth_prod):
    synthesized = synth if profile == "dev" else synth_prod
    choices = PROFILES[profile]
    infra = synthesized.infra
    from cdktf import Testing
    from cdktf_cdktf_provider_aws.db_instance import DbInstance

    [_] = resources(infra, "aws_db_instance").values()  # one instance
    assert Testing.to_have_resource_with_properties(synthesized.testing_synth("infra"), DbInstance.TF_RESOURCE_TYPE, {
        "multi_az": choices.db_multi_az, "deletion_protection": choices.db_deletion_protection,
        "skip_final_snapshot": not choices.db_final_snapshot})
    assert len(resources(infra, "aws_nat_gateway")) == (len(synthesized.settings.availability_zones)
                                                         if choices.nat_gateway_per_az else 1)
    [logs_bucket] = [b for b in resources(infra, "aws_s3_bucket").values() if "-logs-" in b["bucket"]]
    assert logs_bucket["force_destroy"] is choices.task_logs_destroyable
    windows = {s["recovery_window_in_days"] for s in resources(infra, "aws_secretsmanager_secret").values()}
    assert windows == {choices.secret_recovery_days}

    _, values = release_values(synthesized.apps)
    assert values["scheduler"]["replicas"] == choices.scheduler_replicas
    assert values["apiServer"]["replicas"] == choices.api_server_replicas
    assert values["pgbouncer"]["replicas"] == choices.pgbouncer_replicas
    pdbs = {key: values[key]["podDisruptionBudget"]["enabled"]
            for key in ("scheduler", "apiServer", "pgbouncer", "triggerer", "dagProcessor")}
    pdbs["workers"] = values["workers"]["celery"]["podDisruptionBudget"]["enabled"]
    assert set(pdbs.values()) == {choices.pod_disruption_budgets}, pdbs
