"""The Helm release's waits and the jobs' lifetimes agree, so a first install cannot roll back
for a job that finished and deleted itself.

Helm's wait (`wait_for_jobs`) reads every Job of the release until all are complete; a
Job that has already deleted itself (`ttlSecondsAfterFinished`) answers "not found", which
Helm does not retry, and `atomic` then uninstalls the release. So a release that waits for
jobs must keep them for longer than it waits. A release that does not wait for jobs must
still prove the migration ran: every long-running Airflow pod waits for it before it can
become ready, and Helm waits for those pods.
"""

from __future__ import annotations

from tools.chart_render import pod_spec
from tf_json import chart_release

MIGRATION_GATE = "wait-for-airflow-migrations"


def test_no_job_can_vanish_while_helm_waits_for_it(rendered_variant):
    """Whichever way the release is configured: if Helm waits for jobs, every Job outlives the
    wait; if any Job can delete itself within the wait, Helm does not wait for jobs."""
    variant, synthesized, rendered = rendered_variant
    release = chart_release(synthesized.apps, "airflow")
    jobs = rendered.of_kind("Job")
    assert jobs, f"{variant}: no Job rendered: nothing to check"
    vanishing = sorted(job["metadata"]["name"] for job in jobs
                       if job["spec"].get("ttlSecondsAfterFinished") is not None
                       and job["spec"]["ttlSecondsAfterFinished"] <= release["timeout"])
    waits_for_jobs = bool(release.get("wait_for_jobs"))
    assert not (waits_for_jobs and vanishing), (
        f"{variant}: Helm waits up to {release['timeout']} s for Jobs, but {vanishing} delete themselves "
        "sooner; Helm fails the release on a Job it waits for that is gone, and atomic uninstalls it")


def test_a_deploy_succeeds_only_after_the_migration(rendered_variant):
    """Helm's wait covers the migration either way: it waits for the migration Job itself
    (wait_for_jobs), or for pods that each wait for the migration before they can be ready."""
    variant, synthesized, rendered = rendered_variant
    release = chart_release(synthesized.apps, "airflow")
    assert release["wait"] is True and release["atomic"] is True
    migration = rendered.get("Job", f"{rendered.release_name}-run-airflow-migrations")
    assert migration
    if release.get("wait_for_jobs"):
        # Helm itself waits for the migration Job to complete: it must still be there to be read.
        ttl = migration["spec"].get("ttlSecondsAfterFinished")
        assert ttl is None or ttl > release["timeout"], f"{variant}: the migration Job vanishes under Helm's wait"
        return
    gated = {"api-server", "scheduler", "dag-processor", "triggerer", "worker"}
    for workload in rendered.workloads():
        component = workload["spec"]["template"]["metadata"]["labels"].get("component")
        if component in gated:
            gated.discard(component)
            init = [c["name"] for c in pod_spec(workload).get("initContainers", [])]
            assert MIGRATION_GATE in init, f"{variant}: {workload['metadata']['name']} does not wait for the migration"
    assert not gated, f"{variant}: not rendered: {gated}"


def test_each_upgrade_runs_the_jobs_again(rendered_variant):
    """Without Helm hooks the Jobs are ordinary resources, and a Job's pod template cannot
    change: each must be gone before the next upgrade renders it anew."""
    variant, _, rendered = rendered_variant
    for job in rendered.of_kind("Job"):
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        assert ttl is not None and ttl <= 600, f"{variant}: {job['metadata']['name']} keeps for {ttl} s"
