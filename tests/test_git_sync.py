"""git-sync reaches a public repository, a private one over https with a token Secret, or a
private one over ssh with a deploy key; read from the rendered chart."""

from __future__ import annotations

from datetime import date

import pytest

from airflow_platform.preflight import deploy_warnings
from airflow_platform.settings import PLACEHOLDER_GIT_REPO, SettingsError
from defaults import settings_without_env
from tools.chart_render import pod_spec


def git_sync_containers(rendered) -> list[tuple[str, dict]]:
    found = []
    for workload in rendered.workloads():
        spec = pod_spec(workload)
        found += [(f"{workload['metadata']['name']}/{c['name']}", c)
                  for c in spec.get("initContainers", []) + spec["containers"] if c["name"].startswith("git-sync")]
    return found


def secret_env(container: dict) -> dict[str, tuple[str, str]]:
    return {e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}


def env(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}



def test_every_dag_reader_syncs_the_configured_repository(rendered_variant):
    variant, synthesized, rendered = rendered_variant
    containers = git_sync_containers(rendered)
    readers = {name.split("/")[0] for name, _ in containers}
    # Airflow 3: the dag-processor parses, not the scheduler; tasks need the files where they run.
    assert readers >= {"airflow-dag-processor", "airflow-triggerer", "airflow-worker"}, readers
    for name, container in containers:
        assert env(container).get("GITSYNC_REPO") == synthesized.settings.git_sync_repo, (variant, name)


def test_https_with_a_token_secret(rendered_variant):
    variant, synthesized, rendered = rendered_variant
    secret = synthesized.settings.git_sync_credentials_secret
    for name, container in git_sync_containers(rendered):
        refs = secret_env(container)
        if secret:
            # The chart reads all four keys; a Secret missing one keeps the pod from starting.
            assert {k: refs.get(k) for k in ("GITSYNC_USERNAME", "GITSYNC_PASSWORD", "GIT_SYNC_USERNAME",
                                             "GIT_SYNC_PASSWORD")} == {
                k: (secret, k) for k in ("GITSYNC_USERNAME", "GITSYNC_PASSWORD", "GIT_SYNC_USERNAME",
                                         "GIT_SYNC_PASSWORD")}, (variant, name)
        else:
            assert "GITSYNC_PASSWORD" not in refs, (variant, name)
    if secret:
        assert synthesized.settings.git_sync_repo.startswith("https://") and variant == "dev-https"


def test_ssh_with_a_deploy_key_and_pinned_host_keys(rendered_prod, synth_prod):
    secret = synth_prod.settings.git_sync_ssh_secret
    assert secret
    for name, container in git_sync_containers(rendered_prod):
        assert env(container).get("GITSYNC_SSH_KNOWN_HOSTS") == "true", name
        assert "GITSYNC_PASSWORD" not in secret_env(container), name
    volumes = [v for w in rendered_prod.workloads() for v in pod_spec(w).get("volumes", [])
               if v.get("secret", {}).get("secretName") == secret]
    assert volumes


@pytest.mark.parametrize("overrides, setting, message", [
    ({"git_sync_repo": "git@github.com:example/pipelines.git", "git_sync_credentials_secret": "creds"},  # pragma: allowlist secret
     "git_sync_credentials_secret", "works over https only"),
    ({"git_sync_ssh_secret": "key"}, "git_sync_ssh_secret",  # pragma: allowlist secret
     "leave it empty for an https git_sync_repo"),
    ({"git_sync_credentials_secret": "Not_A_Name"},  # pragma: allowlist secret
     "git_sync_credentials_secret", "use a Kubernetes Secret name"),
    ({"git_sync_repo": "git@github.com:example/pipelines.git"}, "git_sync_ssh_secret",
     "name the Secret with the SSH key"),
])
def test_git_settings_that_cannot_work_are_rejected(overrides, setting, message):
    with pytest.raises(SettingsError) as err:
        settings_without_env(**overrides)
    assert any(p.startswith(f"{setting}: ") and message in p for p in err.value.problems), err.value.problems


def test_synthesis_warns_while_the_repository_is_the_placeholder():
    today = date(2026, 11, 24)
    assert settings_without_env().git_sync_repo == PLACEHOLDER_GIT_REPO
    [warning] = [w for w in deploy_warnings(settings_without_env(), today) if "git_sync_repo" in w]
    assert "placeholder" in warning and "no DAG will load" in warning
    own = settings_without_env(git_sync_repo="https://github.com/example/pipelines.git")
    assert not [w for w in deploy_warnings(own, today) if "git_sync_repo" in w]
