"""What a deploy of the apps stack does when Airflow's database password gets a new version,
and in which order Terraform may do it: read from the synthesized stack, not kept by hand.

A new version changes the AWSCURRENT version id that `data.aws_secretsmanager_secret_versions`
reads for the password's secret, and so every resource that refers to that data source
(directly or through a local): the role-bootstrap Job (which sets the password on the role),
the Kubernetes Secrets built from the password (PgBouncer's users.txt, the connections), and
the Helm release (whose pod annotation restarts PgBouncer and Airflow). The bootstrap Job is
the `kubernetes_job_v1` whose env names the password's secret (AIRFLOW_DB_PASSWORD_SECRET_ARN,
what airflow_platform/db_role/bootstrap.py reads).

Terraform applies a resource only after everything it depends on, and applies resources that
do not depend on each other in any order, even at once. `rotation_steps` therefore orders the
changed resources by the stack's dependency graph and, where the graph leaves the order open,
takes the order least favourable to the invariant the rotation must keep (no consumer holds a
password the database does not accept): consumers first, the Job last. A stack in which the
Secrets do not depend on the Job yields an order that breaks the invariant, and the apps
rehearsal that follows these steps fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.tf_graph import Graph, dependency_graph, reachable

PASSWORD_ENV = "AIRFLOW_DB_PASSWORD_SECRET_ARN"  # pragma: allowlist secret
KINDS = {"kubernetes_job_v1": "job", "kubernetes_secret_v1": "secret",  # pragma: allowlist secret
         "helm_release": "release"}
# Where the order is open: the lower, the earlier (the least favourable order).
PRIORITY = {"secret": 0, "release": 1, "job": 2}


class UnknownStep(ValueError):
    """A resource a new password version changes that the rotation does not know how to run."""


@dataclass(frozen=True)
class Step:
    address: str  # e.g. kubernetes_secret_v1.airflow_secrets_metadata_935A7BB7
    kind: str  # job | secret | release
    name: str  # the Kubernetes object's or the Helm release's name, as synthesized


def _envs(job: dict) -> dict[str, str]:
    containers = job["spec"]["template"]["spec"]["container"]
    return {e["name"]: e.get("value", "") for c in containers for e in c.get("env", [])}


def bootstrap_job(apps: dict) -> str:
    """The address of the Job that sets the password on the role."""
    found = [f"kubernetes_job_v1.{name}" for name, job in apps["resource"].get("kubernetes_job_v1", {}).items()
             if PASSWORD_ENV in _envs(job)]
    if len(found) != 1:
        raise ValueError(f"expected one kubernetes_job_v1 with {PASSWORD_ENV} in its env, found {found}")
    return found[0]


def password_versions(apps: dict) -> str:
    """The address of the data source that reads the password secret's version ids."""
    [job] = [apps["resource"]["kubernetes_job_v1"][bootstrap_job(apps).split(".", 1)[1]]]
    secret_id = _envs(job)[PASSWORD_ENV]
    found = [f"data.aws_secretsmanager_secret_versions.{name}"
             for name, data in apps.get("data", {}).get("aws_secretsmanager_secret_versions", {}).items()
             if data.get("secret_id") == secret_id]
    if len(found) != 1:
        raise ValueError(f"expected one aws_secretsmanager_secret_versions of {secret_id}, found {found}")
    return found[0]


def changed_by_a_new_version(apps: dict, graph: Graph | None = None) -> list[Step]:
    graph = graph if graph is not None else dependency_graph(apps)
    versions = password_versions(apps)
    steps = []
    for address in sorted(n for n, deps in graph.items() if versions in deps):
        rtype, name = address.split(".", 1)
        if rtype not in KINDS:
            raise UnknownStep(f"{address} changes with a new password version: the rotation does not know it")
        body = apps["resource"][rtype][name]
        steps.append(Step(address, KINDS[rtype], body["name"] if rtype == "helm_release" else body["metadata"]["name"]))
    return steps


def rotation_steps(apps: dict) -> list[Step]:
    """The changed resources in an order Terraform may apply them, the least favourable one
    where the stack's dependencies leave it open."""
    graph = dependency_graph(apps)
    steps = changed_by_a_new_version(apps, graph)
    after = {s.address: reachable(graph, s.address) for s in steps}  # what each waits for
    ordered, pending = [], list(steps)
    while pending:
        ready = [s for s in pending if not any(o.address in after[s.address] for o in pending if o is not s)]
        if not ready:
            raise ValueError(f"a dependency cycle among {[s.address for s in pending]}")
        step = min(ready, key=lambda s: (PRIORITY[s.kind], s.address))
        ordered.append(step)
        pending.remove(step)
    return ordered


def consumers_before_the_job(apps: dict) -> list[str]:
    """Consumers (Secrets, the release) that Terraform may change before the Job succeeded."""
    graph = dependency_graph(apps)
    job = bootstrap_job(apps)
    return [s.address for s in changed_by_a_new_version(apps, graph)
            if s.kind != "job" and job not in reachable(graph, s.address)]


def version_annotations(apps: dict) -> set[str]:
    """The pod annotations that carry the password's current version id (on the Job's pods;
    the release puts the same keys on the pods it restarts on a new version)."""
    versions = password_versions(apps)
    job = apps["resource"]["kubernetes_job_v1"][bootstrap_job(apps).split(".", 1)[1]]
    annotations = job["spec"]["template"]["metadata"].get("annotations", {})
    probe = {"locals": apps.get("locals", {}), "data": apps.get("data", {}),
             "resource": {"terraform_data": {f"a{i}": {"input": value} for i, value in enumerate(annotations.values())}}}
    graph = dependency_graph(probe)
    return {key for i, key in enumerate(annotations) if versions in graph[f"terraform_data.a{i}"]}
