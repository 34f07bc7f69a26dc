"""Capacity: every profile's rendered pods fit its nodes at the minimum size, with room for
the system pods and one rolling update; the settings-time estimate never undercounts the
real render; settings that cannot fit are refused with the numbers."""

from __future__ import annotations

import pytest

from airflow_platform.capacity import (
    CLUSTER_ADDONS, INSTANCE_TYPES, NODE_DAEMONS, InstanceType, Pod, Requests, airflow_pods, autoscaler_pods,
    capacity_problems, cpu_millis, fit, memory_mib, monthly_cost, pod_requests, pod_spec_requests,
    smallest_and_largest,
)
from paths import REPO
from defaults import checked_settings
from airflow_platform.settings import SettingsError, load_settings

PROFILES = {"dev": ("synth", "rendered", "rendered_addons"), "prod": ("synth_prod", "rendered_prod",
                                                                      "rendered_addons_prod")}


def settings_without_env(**overrides):
    """The committed defaults with `overrides`, ignoring the caller's AIRFLOW_PLATFORM_* variables,
    through the whole pipeline main.py runs (the capacity check included)."""
    return checked_settings(**overrides)


def rendered_pods(rendered) -> list[Pod]:
    """The pods a render creates, each with the requests the scheduler counts and its replicas
    (a KEDA-scaled workload starts at its ScaledObject's minReplicaCount)."""
    scaled = {o["spec"]["scaleTargetRef"]["name"]: o["spec"].get("minReplicaCount", 0)
              for o in rendered.of_kind("ScaledObject")}
    pods = []
    for workload in rendered.workloads():
        kind, name, spec = workload["kind"], workload["metadata"]["name"], workload["spec"]
        if kind == "Job":
            replicas = spec.get("parallelism", 1)
        elif name in scaled:
            replicas = scaled[name]
        else:
            replicas = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
        pods.append(Pod(name, pod_spec_requests(spec["template"]["spec"]), replicas=replicas,
                        daemonset=kind == "DaemonSet", surges=kind == "Deployment"))
    return pods


def profile_pods(request, profile: str) -> tuple:
    synth_name, airflow_name, addons_name = PROFILES[profile]
    synth = request.getfixturevalue(synth_name)
    addons = [p for rendered in request.getfixturevalue(addons_name).values() for p in rendered_pods(rendered)]
    airflow = rendered_pods(request.getfixturevalue(airflow_name))
    return synth.settings, [*NODE_DAEMONS, *CLUSTER_ADDONS, *addons, *airflow]


@pytest.mark.parametrize("profile", PROFILES)
def test_rendered_pods_fit_at_minimum_size(request, profile):
    """The pods the charts really render, plus EKS's own, plus one surge, on node_min_size
    nodes of the smallest listed type."""
    settings, pods = profile_pods(request, profile)
    smallest, _ = smallest_and_largest(settings.node_instance_types)
    result = fit(pods, smallest, settings.node_min_size)
    print(f"{profile}: {result.describe()}")
    assert result.fits, f"{profile} does not fit: {result.describe()}"


@pytest.mark.parametrize("profile", PROFILES)
def test_the_settings_time_estimate_covers_the_render(request, profile):
    """capacity.py derives the requests from helm/values.yaml and the settings; the chart
    renders them. Every rendered pod must be counted, never lower than rendered."""
    settings, _ = profile_pods(request, profile)
    airflow_name, addons_name = PROFILES[profile][1:]
    estimated = {p.name: p for p in airflow_pods(settings, workers=settings.celery_worker_min_replicas)}
    estimated |= {p.name: p for p in autoscaler_pods(settings)}
    rendered = rendered_pods(request.getfixturevalue(airflow_name))
    rendered += [p for r in request.getfixturevalue(addons_name).values() for p in rendered_pods(r)]
    for pod in rendered:
        assert pod.name in estimated, f"the estimate does not know the rendered pod {pod.name}"
        guess = estimated[pod.name]
        assert pod.requests.fits_in(guess.requests), f"{pod.name}: rendered {pod.requests} > estimated {guess.requests}"
        assert pod.replicas <= guess.replicas, \
            f"{pod.name}: {pod.replicas} replicas rendered, {guess.replicas} estimated"
        assert not pod.surges or guess.surges, f"{pod.name} surges on rollout but the estimate says it does not"
    total = Requests.total(p.requests * p.replicas for p in rendered)
    assert total.fits_in(Requests.total(estimated[p.name].requests * estimated[p.name].replicas for p in rendered))


# --- the model itself ---------------------------------------------------------------------


def test_quantities():
    assert [cpu_millis(q) for q in ("250m", "1", "0.5", 2)] == [250, 1000, 500, 2000]
    assert [memory_mib(q) for q in ("512Mi", "1Gi", "100M", "1048576", "64Ki")] == [512, 1024, 96, 1, 1]


def test_pod_requests_count_init_containers_as_kubernetes_does():
    assert pod_requests([Requests(100, 100), Requests(50, 50)], [Requests(120, 10)]) == Requests(150, 150)
    assert pod_requests([Requests(100, 100)], [Requests(500, 10)]) == Requests(500, 100)
    spec = {"initContainers": [{"resources": {"requests": {"cpu": "1", "memory": "1Mi"}}},
                               {"restartPolicy": "Always", "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}}}],
            "containers": [{"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}, {}]}
    assert pod_spec_requests(spec) == Requests(1000, 72)  # the sidecar counts with the containers


def test_allocatable_follows_the_eks_formula():
    large, xlarge = INSTANCE_TYPES["m6i.large"], INSTANCE_TYPES["m6i.xlarge"]
    assert (large.max_pods, xlarge.max_pods) == (29, 58)  # the EKS AMI's eni-max-pods.txt values
    assert large.kube_reserved == Requests(70, 255 + 11 * 29)
    assert xlarge.kube_reserved == Requests(80, 255 + 11 * 58)
    assert InstanceType(16, 64, 8, 30, 0).max_pods == 110 and InstanceType(16, 64, 8, 30, 0).kube_reserved.cpu_m == 110
    assert large.allocatable == Requests(1930, int(8192 * 0.94) - 574 - 100)


def test_fit_places_pods_per_node_and_reports_what_does_not_fit():
    pods = [Pod("daemon", Requests(200, 200), daemonset=True),
            Pod("big", Requests(1500, 1000), replicas=2, surges=True)]
    assert fit(pods, "m6i.large", 3).fits  # two pods and the surge, one per node
    result = fit(pods, "m6i.large", 2)
    assert not result.fits and result.unplaced == [f"rolling-update surge ({Requests(1500, 1000)})"]
    huge = fit([Pod("huge", Requests(1950, 10))], "m6i.large", 5)  # 1930m allocatable: five nodes do not help
    assert not huge.fits and huge.offered.cpu_m > 1950 and "cannot place: huge" in huge.describe()


# --- bad input stops synthesis ------------------------------------------------------------


def test_prod_on_two_small_nodes_is_refused_with_the_numbers():
    with pytest.raises(SettingsError) as err:
        settings_without_env(profile="prod", node_instance_types="m6i.large", node_min_size="2",
                             node_desired_size="2", celery_worker_autoscaling="true")
    [problem] = [p for p in err.value.problems if p.startswith("node_min_size")]
    assert "2 x m6i.large" in problem and "rolling-update surge" in problem and "m CPU" in problem, problem


def test_a_maximum_that_never_fits_is_refused():
    with pytest.raises(SettingsError) as err:
        settings_without_env(profile="prod", celery_worker_autoscaling="true", celery_worker_max_replicas="60")
    assert any(p.startswith("celery_worker_max_replicas: 60 workers could never be scheduled") for p in
               err.value.problems), err.value.problems


@pytest.mark.parametrize("overrides, message", [
    ({"celery_worker_min_replicas": "3", "celery_worker_max_replicas": "2"},
     "celery_worker_max_replicas: 2 is not allowed; use at least celery_worker_min_replicas (3)"),
    ({"celery_worker_min_replicas": "0"}, "celery_worker_min_replicas: 0 is not allowed"),
    ({"node_min_size": "3", "node_desired_size": "3", "node_max_size": "2"},
     "node_max_size: 2 is not allowed; use at least node_min_size (3)"),
    ({"node_instance_types": "x9.huge"}, "node_instance_types: 'x9.huge' not in the capacity table"),
])
def test_contradicting_bounds_are_refused(overrides, message):
    with pytest.raises(SettingsError) as err:
        settings_without_env(**overrides)
    assert any(p.startswith(message) for p in err.value.problems), err.value.problems


def test_every_committed_profile_passes_the_settings_time_check():
    for profile in ("dev", "prod"):
        settings = settings_without_env(profile=profile)
        assert capacity_problems(settings) == [], profile


def test_the_readme_costs_are_the_models():
    """docs/scaling.md's table: nodes' on-demand cost at the minimum and maximum of each profile."""
    readme = (REPO / "docs" / "scaling.md").read_text()
    for profile in ("dev", "prod"):
        s = settings_without_env(profile=profile)
        low, high = (round(monthly_cost(s, n), -1) for n in (s.node_min_size, s.node_max_size))
        row = f"| {profile} | {s.node_min_size}-{s.node_max_size} x {s.node_instance_types[0]} |"
        assert row in readme and f"about ${low:.0f} / ${high:.0f} a month" in readme, (row, low, high)
