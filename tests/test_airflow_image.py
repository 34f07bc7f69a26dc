"""Every Airflow container runs the platform's Airflow image: the official one by default, the
team's (by digest) when the settings name it. Checked on the chart as `helm template` renders it
with the synthesized values (tools/chart_render.py), and on the role-bootstrap Job.

dev renders the defaults (apache/airflow:<airflow_image_tag>); prod renders the team's image
(tests/conftest.py: TEAM_IMAGE_REPOSITORY@TEAM_IMAGE_DIGEST). A container that is not Airflow's
must run one of the chart's other images (StatsD, Redis, PgBouncer and its exporter, git-sync)
at the chart's own tag (its values.yaml), so a container the chart adds later is not let through.
"""

from __future__ import annotations

import tarfile

import pytest
import yaml

from defaults import TEAM_IMAGE_DIGEST, TEAM_IMAGE_REPOSITORY
from tf_json import chart_release, resources
from tools.chart_render import chart_archive, pod_spec

# The chart's components that run Airflow itself: each must run the Airflow image.
AIRFLOW_WORKLOADS = {"airflow-scheduler", "airflow-api-server", "airflow-dag-processor", "airflow-triggerer",
                     "airflow-worker", "airflow-run-airflow-migrations", "airflow-create-user"}


def other_images(release: dict) -> set[str]:
    """The chart's images that are not Airflow (its values.yaml `images`), as repository:tag: by
    repository alone, PgBouncer's (apache/airflow:airflow-pgbouncer-...) would let Airflow's pass."""
    archive = chart_archive(release["chart"], release["version"], release["repository"])
    with tarfile.open(archive) as tar:
        values = yaml.safe_load(tar.extractfile(f"{release['chart']}/values.yaml"))
    return {f"{image['repository']}:{image['tag']}" for name, image in values["images"].items()
            if isinstance(image, dict) and image.get("repository") and name not in ("airflow", "pod_template")}


def containers_by_image(rendered) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for workload in rendered.workloads():
        spec = pod_spec(workload)
        for container in spec.get("initContainers", []) + spec["containers"]:
            found.setdefault(container["image"], set()).add(f"{workload['metadata']['name']}/{container['name']}")
    return found


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_every_airflow_container_runs_the_platforms_image(profile, synth, synth_prod, rendered, rendered_prod):
    synthesized, chart = (synth, rendered) if profile == "dev" else (synth_prod, rendered_prod)
    expected = {"dev": f"apache/airflow:{synth.settings.airflow_image_tag}",
                "prod": f"{TEAM_IMAGE_REPOSITORY}@{TEAM_IMAGE_DIGEST}"}[profile]
    assert synthesized.settings.airflow_image.reference == expected
    others = other_images(chart_release(synthesized.apps, "airflow"))
    by_image = containers_by_image(chart)
    stray = {image: where for image, where in by_image.items() if image != expected and image not in others}
    assert stray == {}, f"containers on neither the platform's Airflow image {expected} nor a chart image"
    runs_airflow = {where.split("/")[0] for where in by_image.get(expected, set())}
    assert AIRFLOW_WORKLOADS <= runs_airflow, f"without {expected}: {sorted(AIRFLOW_WORKLOADS - runs_airflow)}"


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_the_role_bootstrap_job_runs_the_platforms_image(profile, synth, synth_prod):
    synthesized = synth if profile == "dev" else synth_prod
    [job] = resources(synthesized.apps, "kubernetes_job_v1").values()
    [container] = job["spec"]["template"]["spec"]["container"]
    assert container["image"] == synthesized.settings.airflow_image.reference


def test_the_team_image_is_pulled_by_digest_not_by_a_mutable_tag(synth_prod, rendered_prod):
    images = set(containers_by_image(rendered_prod))
    assert not any(i.startswith(f"{TEAM_IMAGE_REPOSITORY}:") for i in images), images
