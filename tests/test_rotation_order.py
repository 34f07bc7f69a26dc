"""A new version of Airflow's database password reaches the database before any consumer.

Read from the synthesized apps stack's dependency graph (tools/db_password_rotation.py over
tools/tf_graph.py): Terraform applies a resource only after what it depends on, and the
kubernetes provider's `kubernetes_job_v1` with `wait_for_completion` fails the apply when
the Job fails, so nothing that depends on the Job is changed then (Terraform docs, "Resource
behavior": dependents of a failed resource are not applied). The apps stack cannot be
`terraform graph`-ed here (its helm and kubernetes providers are not in the offline mirror),
so the graph is read from the JSON as Terraform would build it: references, locals and
depends_on. The apps rehearsal runs the same steps, in this order, for real.
"""

from __future__ import annotations

import copy

from tools.db_password_rotation import (
    bootstrap_job, changed_by_a_new_version, consumers_before_the_job, rotation_steps, version_annotations,
)

# The four Secrets built from the password (airflow_platform/constructs/airflow_secrets.py).
PASSWORD_SECRETS = {"airflow-metadata", "airflow-result-backend", "airflow-pgbouncer-config", "airflow-pgbouncer-stats"}


def test_a_new_version_changes_the_job_the_password_secrets_and_the_release(synth):
    steps = changed_by_a_new_version(synth.apps)
    assert {s.name for s in steps if s.kind == "secret"} == PASSWORD_SECRETS
    assert [s.kind for s in steps].count("job") == 1 and [s.kind for s in steps].count("release") == 1


def test_the_database_learns_the_password_before_any_consumer(synth):
    assert consumers_before_the_job(synth.apps) == []
    kinds = [s.kind for s in rotation_steps(synth.apps)]
    assert kinds == ["job", "secret", "secret", "secret", "secret", "release"], kinds


def test_secrets_written_without_waiting_for_the_job_are_caught(synth):
    apps = copy.deepcopy(synth.apps)
    job = bootstrap_job(apps)
    for secret in apps["resource"]["kubernetes_secret_v1"].values():
        secret["depends_on"] = [d for d in secret.get("depends_on", []) if d != job]
    assert {apps["resource"]["kubernetes_secret_v1"][a.split(".", 1)[1]]["metadata"]["name"]
            for a in consumers_before_the_job(apps)} == PASSWORD_SECRETS
    # where the graph leaves the order open, the least favourable one: the Secrets first
    assert [s.kind for s in rotation_steps(apps)][:4] == ["secret"] * 4


def test_a_release_that_does_not_wait_for_the_job_is_caught(synth):
    apps = copy.deepcopy(synth.apps)
    job = bootstrap_job(apps)
    for secret in apps["resource"]["kubernetes_secret_v1"].values():
        secret["depends_on"] = [d for d in secret.get("depends_on", []) if d != job]
    [release] = [a for a in (s.address for s in rotation_steps(apps)) if a.startswith("helm_release.")]
    body = apps["resource"]["helm_release"][release.split(".", 1)[1]]
    body["depends_on"] = [d for d in body["depends_on"] if d != job and not d.startswith("kubernetes_secret_v1.")]
    assert release in consumers_before_the_job(apps)


def _secrets_read_by(workload: dict) -> set[str]:
    """The Secrets a pod template reads: env, envFrom and volumes (projected too)."""
    spec = workload["spec"]["template"]["spec"]
    names = set()
    for container in spec.get("initContainers", []) + spec["containers"]:
        names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                  if "secretKeyRef" in (e.get("valueFrom") or {})}
        names |= {e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e}
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
        names |= {s["secret"]["name"] for s in (volume.get("projected") or {}).get("sources", []) if "secret" in s}
    return names


def test_a_new_version_restarts_every_pod_that_holds_the_password_and_touches_no_job(rendered_variant):
    """The release restarts a pod only through its template's version annotation, so every
    long-running pod that reads one of the password's Secrets must carry it (else it keeps the
    old password until some later restart). No Job may carry it: a Job's pod template is
    immutable (Kubernetes API, Job: `spec.template` cannot be updated), and the chart's Jobs
    stay for `ttlSecondsAfterFinished` after each upgrade, so a rotation within that time would
    fail the upgrade, and `atomic` would roll back PgBouncer's restart while the database and
    the Secrets already hold the new password."""
    variant, synthesized, rendered = rendered_variant
    keys = version_annotations(synthesized.apps)
    assert keys, "the bootstrap Job carries no annotation of the password's version"
    missing, on_jobs = [], []
    for workload in rendered.workloads():
        annotated = keys & set(workload["spec"]["template"]["metadata"].get("annotations") or {})
        name = workload["metadata"]["name"]
        if workload["kind"] == "Job":
            if annotated:
                on_jobs.append(name)
        elif _secrets_read_by(workload) & PASSWORD_SECRETS and not annotated:
            missing.append(name)
    assert missing == [], f"{variant}: these pods hold the password and would not restart on a new version"
    assert on_jobs == [], f"{variant}: a new password version would change these Jobs' immutable templates"
