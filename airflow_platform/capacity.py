"""Capacity: what the pods request, what the nodes offer, and whether one fits the other.

Used at settings time (no helm, no cdktf): the Airflow pods' requests are derived from
the same inputs the release passes to the chart (`helm/values.yaml` for the resources,
the settings for the replicas), container by container, the way the chart 1.21.0 lays
its pods out. `tests/test_capacity.py` renders the real charts and proves this estimate
is never below what the rendered pods request.

A pod's effective request is what the Kubernetes scheduler counts:
max(largest init container, sum of the containers). Native sidecars (init containers
with `restartPolicy: Always`) count with the containers; the charts here render none.

Node allocatable follows the EKS AMI's formulas (amazon-eks-ami, `nodeadm`, and the
`max-pods-calculator.sh` it ships; the same progression is in eksctl's `reserved.go`):

- max pods = ENIs x (IPv4 addresses per ENI - 1) + 2 (the first address of each ENI
  is the ENI's own; +2 for aws-node and kube-proxy on the host network), capped at
  110 below 30 vCPUs and 250 above (the calculator's recommended value);
- kube-reserved CPU = 6% of the first core + 1% of the second + 0.5% of the next two
  + 0.25% of every core above four;
- kube-reserved memory = 255 MiB + 11 MiB x max pods;
- eviction threshold `memory.available<100Mi`.

The kubelet's memory capacity is the kernel's MemTotal, which is below the nominal
instance memory (firmware and the kernel keep some). This model takes 6% off the
nominal memory for that: an assumption that errs on the safe side, not a measurement.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml

from airflow_platform.constructs.cluster_autoscaler import CLUSTER_AUTOSCALER_RESOURCES
from airflow_platform.constructs.keda import KEDA_POD_NAMES, KEDA_RESOURCES
from airflow_platform.settings import Settings

VALUES_FILE = Path(__file__).resolve().parent.parent / "helm" / "values.yaml"
HOURS_PER_MONTH = 730


# --- quantities ---------------------------------------------------------------------------

_MEMORY_UNITS = {"": 1 / 2**20, "k": 1000 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20, "T": 1e12 / 2**20,
                 "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024**2}


def cpu_millis(quantity) -> int:
    """`250m`, `1`, `0.5` -> millicores (rounded up)."""
    text = str(quantity).strip()
    if text.endswith("m"):
        return math.ceil(float(text[:-1]))
    return math.ceil(float(text) * 1000)


def memory_mib(quantity) -> int:
    """`512Mi`, `1Gi`, `100M`, `1000000` -> MiB (rounded up)."""
    match = re.fullmatch(r"([0-9.]+)([kMGT]i?|Ki)?", str(quantity).strip())
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return math.ceil(float(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""])


@dataclass(frozen=True)
class Requests:
    """CPU (millicores) and memory (MiB) requests."""

    cpu_m: int = 0
    memory_mi: int = 0

    def __add__(self, other: Requests) -> Requests:
        return Requests(self.cpu_m + other.cpu_m, self.memory_mi + other.memory_mi)

    def __sub__(self, other: Requests) -> Requests:
        return Requests(self.cpu_m - other.cpu_m, self.memory_mi - other.memory_mi)

    def __mul__(self, n: int) -> Requests:
        return Requests(self.cpu_m * n, self.memory_mi * n)

    def max(self, other: Requests) -> Requests:
        return Requests(max(self.cpu_m, other.cpu_m), max(self.memory_mi, other.memory_mi))

    def fits_in(self, other: Requests) -> bool:
        return self.cpu_m <= other.cpu_m and self.memory_mi <= other.memory_mi

    def __str__(self) -> str:
        return f"{self.cpu_m}m CPU / {self.memory_mi}Mi"

    @classmethod
    def of(cls, resources: dict | None) -> Requests:
        """The `requests` of a container's `resources` (missing means zero, as Kubernetes counts)."""
        requests = (resources or {}).get("requests") or {}
        return cls(cpu_millis(requests.get("cpu", 0)), memory_mib(requests.get("memory", 0)))

    @classmethod
    def total(cls, items: Iterable[Requests]) -> Requests:
        out = cls()
        for item in items:
            out = out + item
        return out


def pod_requests(containers: Iterable[Requests], init_containers: Iterable[Requests] = (),
                 sidecars: Iterable[Requests] = ()) -> Requests:
    """What the scheduler counts for a pod: max(each init container, sum of containers and sidecars)."""
    running = Requests.total([*containers, *sidecars])
    for init in init_containers:
        running = running.max(init)
    return running


def pod_spec_requests(spec: dict) -> Requests:
    """`pod_requests` of a rendered pod spec."""
    inits = spec.get("initContainers") or []
    sidecars = [Requests.of(c.get("resources")) for c in inits if c.get("restartPolicy") == "Always"]
    plain_inits = [Requests.of(c.get("resources")) for c in inits if c.get("restartPolicy") != "Always"]
    return pod_requests([Requests.of(c.get("resources")) for c in spec.get("containers", [])],
                        plain_inits, sidecars)


# --- pods ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pod:
    """`replicas` identical pods. A DaemonSet pod runs once on every node; a Deployment's
    rolling update starts one extra pod (maxSurge) before it stops an old one."""

    name: str
    requests: Requests
    replicas: int = 1
    daemonset: bool = False
    surges: bool = False


# --- nodes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceType:
    """EC2 facts: vCPUs, nominal memory, network interfaces and IPv4 addresses per interface
    (EC2 User Guide, "IP addresses per network interface per instance type"), and the
    us-east-1 on-demand Linux price per hour in USD (for the cost figures of docs/scaling.md and docs/costs.md only)."""

    vcpu: int
    memory_gib: int
    enis: int
    ipv4_per_eni: int
    usd_per_hour: float

    @property
    def max_pods(self) -> int:
        formula = self.enis * (self.ipv4_per_eni - 1) + 2
        return min(formula, 110 if self.vcpu < 30 else 250)

    @property
    def kube_reserved(self) -> Requests:
        cores = self.vcpu
        cpu = 60 * min(cores, 1) + 10 * min(max(cores - 1, 0), 1) + 5 * min(max(cores - 2, 0), 2) \
            + 2.5 * max(cores - 4, 0)
        return Requests(math.ceil(cpu), 255 + 11 * self.max_pods)

    @property
    def capacity(self) -> Requests:
        return Requests(self.vcpu * 1000, math.floor(self.memory_gib * 1024 * (1 - MEMTOTAL_SHORTFALL)))

    @property
    def allocatable(self) -> Requests:
        return self.capacity - self.kube_reserved - Requests(0, EVICTION_HARD_MI)


MEMTOTAL_SHORTFALL = 0.06
EVICTION_HARD_MI = 100

# The instance types this model knows. Add a type with its EC2 facts to use it.
INSTANCE_TYPES: dict[str, InstanceType] = {
    "t3.large": InstanceType(2, 8, 3, 12, 0.0832),
    "t3.xlarge": InstanceType(4, 16, 4, 15, 0.1664),
    "t3.2xlarge": InstanceType(8, 32, 4, 15, 0.3328),
    "m5.large": InstanceType(2, 8, 3, 10, 0.096),
    "m5.xlarge": InstanceType(4, 16, 4, 15, 0.192),
    "m5.2xlarge": InstanceType(8, 32, 4, 15, 0.384),
    "m6i.large": InstanceType(2, 8, 3, 10, 0.096),
    "m6i.xlarge": InstanceType(4, 16, 4, 15, 0.192),
    "m6i.2xlarge": InstanceType(8, 32, 4, 15, 0.384),
    "m6i.4xlarge": InstanceType(16, 64, 8, 30, 0.768),
    "m7i.large": InstanceType(2, 8, 3, 10, 0.1008),
    "m7i.xlarge": InstanceType(4, 16, 4, 15, 0.2016),
    "m7i.2xlarge": InstanceType(8, 32, 4, 15, 0.4032),
    "m6g.large": InstanceType(2, 8, 3, 10, 0.077),
    "m6g.xlarge": InstanceType(4, 16, 4, 15, 0.154),
    "m6g.2xlarge": InstanceType(8, 32, 4, 15, 0.308),
    "m7g.large": InstanceType(2, 8, 3, 10, 0.0816),
    "m7g.xlarge": InstanceType(4, 16, 4, 15, 0.1632),
    "m7g.2xlarge": InstanceType(8, 32, 4, 15, 0.3264),
    "c6i.xlarge": InstanceType(4, 8, 4, 15, 0.17),
    "c6i.2xlarge": InstanceType(8, 16, 4, 15, 0.34),
    "r6i.large": InstanceType(2, 16, 3, 10, 0.126),
    "r6i.xlarge": InstanceType(4, 32, 4, 15, 0.252),
}


# --- system pods: what EKS and the add-ons request --------------------------------------

# DaemonSets on every node, with the requests of the EKS add-ons' manifests:
# aws-node (VPC CNI: aws-node 25m + network policy agent 25m), kube-proxy (100m),
# ebs-csi-node (ebs-plugin, node-driver-registrar, liveness-probe: 10m / 40Mi each).
NODE_DAEMONS = (
    Pod("aws-node", Requests(50, 0), daemonset=True),
    Pod("kube-proxy", Requests(100, 0), daemonset=True),
    Pod("ebs-csi-node", Requests(30, 120), daemonset=True),
    # The amazon-cloudwatch-observability add-on (component logs, Container Insights): its chart's
    # values at the pinned version (aws-observability/helm-charts, amazon-cloudwatch-observability
    # 6.2.0, values.yaml): Fluent Bit 50m / 25Mi (containerLogs.fluentBit.resources) and the
    # CloudWatch agent 250m / 128Mi (agent.resources). Its DCGM and Neuron DaemonSets select GPU and
    # Inferentia instance types only; its cluster scraper runs only with otelContainerInsights.
    Pod("fluent-bit", Requests(50, 25), daemonset=True),
    Pod("cloudwatch-agent", Requests(250, 128), daemonset=True),
)
# Cluster add-ons that run as Deployments: CoreDNS (2 x 100m / 70Mi) and the EBS CSI
# controller (2 x six containers at 10m / 40Mi).
CLUSTER_ADDONS = (
    Pod("coredns", Requests(100, 70), replicas=2, surges=True),
    Pod("ebs-csi-controller", Requests(60, 240), replicas=2, surges=True),
    # The add-on's operator (manager.resources: 100m / 64Mi), one replica (replicaCount).
    Pod("amazon-cloudwatch-observability-controller-manager", Requests(100, 64), surges=True),
)
# The Cluster Autoscaler's and KEDA's requests are their constructs' (the values they pass).


def autoscaler_pods(settings: Settings) -> list[Pod]:
    pods = [Pod("cluster-autoscaler", Requests.of(CLUSTER_AUTOSCALER_RESOURCES), surges=True)]
    if settings.celery_worker_autoscaling:
        pods += [Pod(KEDA_POD_NAMES[key], Requests.of(resources), surges=True)
                 for key, resources in KEDA_RESOURCES.items()]
    return pods


# --- the Airflow release's pods, from the values it passes --------------------------------


def static_values() -> dict:
    return yaml.safe_load(VALUES_FILE.read_text())


def _resources(values: dict, *path: str) -> Requests:
    node = values
    for key in path:
        node = node.get(key) or {}
    if not (node.get("resources") or {}).get("requests"):
        raise ValueError(f"helm/values.yaml gives {'.'.join(path)} no resources.requests: the capacity check "
                         "needs every container's requests")
    return Requests.of(node["resources"])


def airflow_pods(settings: Settings, *, workers: int, values: dict | None = None) -> list[Pod]:
    """The Airflow chart's pods, container by container as chart 1.21.0 renders them:
    every Airflow component has a `wait-for-airflow-migrations` init container with the
    component's resources; components that read DAGs have git-sync (and git-sync-init);
    scheduler, dag-processor, triggerer and workers have a log-groomer sidecar."""
    v = static_values() if values is None else values
    git_sync = _resources(v, "dags", "gitSync")

    def component(name: str, key: tuple[str, ...], *, groomer: tuple[str, ...] | None, dags: bool,
                  replicas: int, surges: bool) -> Pod:
        main = _resources(v, *key)
        containers = [main] + ([git_sync] if dags else []) + ([_resources(v, *groomer)] if groomer else [])
        inits = [main] + ([git_sync] if dags else [])
        return Pod(name, pod_requests(containers, inits), replicas=replicas, surges=surges)

    def plain(name: str, *keys: tuple[str, ...], replicas: int = 1, surges: bool = True) -> Pod:
        return Pod(name, Requests.total(_resources(v, *k) for k in keys), replicas=replicas, surges=surges)

    return [
        component("airflow-scheduler", ("scheduler",), groomer=("scheduler", "logGroomerSidecar"), dags=False,
                  replicas=settings.choices.scheduler_replicas, surges=True),
        component("airflow-api-server", ("apiServer",), groomer=None, dags=False,
                  replicas=settings.choices.api_server_replicas, surges=True),
        component("airflow-dag-processor", ("dagProcessor",), groomer=("dagProcessor", "logGroomerSidecar"),
                  dags=True, replicas=1, surges=True),
        component("airflow-triggerer", ("triggerer",), groomer=("triggerer", "logGroomerSidecar"), dags=True,
                  replicas=1, surges=False),
        component("airflow-worker", ("workers", "celery"), groomer=("workers", "logGroomerSidecar"), dags=True,
                  replicas=workers, surges=False),
        plain("airflow-pgbouncer", ("pgbouncer",), ("pgbouncer", "metricsExporterSidecar"),
              replicas=settings.choices.pgbouncer_replicas),
        plain("airflow-redis", ("redis",), surges=False),
        plain("airflow-statsd", ("statsd",)),
        # The jobs run at every install and upgrade (no Helm hooks), beside the pods.
        plain("airflow-run-airflow-migrations", ("migrateDatabaseJob",), surges=False),
        plain("airflow-create-user", ("createUserJob",), surges=False),
    ]


# --- fitting ------------------------------------------------------------------------------


@dataclass
class Fit:
    """The outcome of placing `pods` (plus one rolling-update surge) on `nodes` x `instance_type`."""

    instance_type: str
    nodes: int
    pods: list[Pod]
    per_node_free: Requests = field(default=Requests())
    requested: Requests = field(default=Requests())
    surge: Requests = field(default=Requests())
    unplaced: list[str] = field(default_factory=list)

    @property
    def offered(self) -> Requests:
        return self.per_node_free * self.nodes

    @property
    def fits(self) -> bool:
        return not self.unplaced and (self.requested + self.surge).fits_in(self.offered)

    def describe(self) -> str:
        t = INSTANCE_TYPES[self.instance_type]
        return (f"{self.nodes} x {self.instance_type} (allocatable {t.allocatable} each, {self.per_node_free} "
                f"after the per-node daemons; {self.offered} in all) for pods requesting {self.requested} "
                f"plus one rolling-update surge of {self.surge} = {self.requested + self.surge}"
                + (f"; cannot place: {', '.join(self.unplaced[:4])}" if self.unplaced else "")
                + (f" and {len(self.unplaced) - 4} more" if len(self.unplaced) > 4 else ""))


def fit(pods: list[Pod], instance_type: str, nodes: int) -> Fit:
    """Place every replica, and one extra copy of the largest pod that surges, first-fit
    decreasing on `nodes` nodes, each with its DaemonSets' requests taken off first."""
    itype = INSTANCE_TYPES[instance_type]
    daemons = Requests.total(p.requests for p in pods if p.daemonset)
    free_each = itype.allocatable - daemons
    replicas = [(p.name, p.requests) for p in pods if not p.daemonset for _ in range(p.replicas)]
    surging = [p.requests for p in pods if p.surges and not p.daemonset and p.replicas > 0]
    surge = max(surging, key=lambda r: (r.cpu_m / max(free_each.cpu_m, 1) + r.memory_mi / max(free_each.memory_mi, 1)),
                default=Requests())
    result = Fit(instance_type, nodes, pods, per_node_free=free_each,
                 requested=Requests.total(r for _, r in replicas), surge=surge)
    bins = [free_each] * nodes
    items = sorted([*replicas, ("rolling-update surge", surge)],
                   key=lambda item: (item[1].cpu_m / max(free_each.cpu_m, 1)
                                     + item[1].memory_mi / max(free_each.memory_mi, 1)), reverse=True)
    for name, request in items:
        for i, room in enumerate(bins):
            if request.fits_in(room):
                bins[i] = room - request
                break
        else:
            result.unplaced.append(f"{name} ({request})")
    return result


def all_pods(settings: Settings, *, workers: int, values: dict | None = None) -> list[Pod]:
    return [*NODE_DAEMONS, *CLUSTER_ADDONS, *autoscaler_pods(settings),
            *airflow_pods(settings, workers=workers, values=values)]


def smallest_and_largest(instance_types: Iterable[str]) -> tuple[str, str]:
    def size(name: str) -> tuple[int, int]:
        a = INSTANCE_TYPES[name].allocatable
        return (a.cpu_m, a.memory_mi)
    ordered = sorted(instance_types, key=size)
    return ordered[0], ordered[-1]


def capacity_problems(settings: Settings, values: dict | None = None) -> list[str]:
    """Why the settings cannot run: pods that do not fit at the minimum node count, or a
    maximum that could never be scheduled. Empty when they fit."""
    s = settings
    unknown = [t for t in s.node_instance_types if t not in INSTANCE_TYPES]
    if unknown:
        return [f"node_instance_types: {', '.join(map(repr, unknown))} not in the capacity table; use one of "
                f"{', '.join(INSTANCE_TYPES)} or add the type to INSTANCE_TYPES in airflow_platform/capacity.py"]
    smallest, largest = smallest_and_largest(s.node_instance_types)
    p: list[str] = []
    at_min = fit(all_pods(s, workers=s.celery_worker_min_replicas, values=values), smallest, s.node_min_size)
    if not at_min.fits:
        p.append(f"node_min_size: {s.node_min_size} is too small for {s.celery_worker_min_replicas} worker(s): "
                 f"{at_min.describe()}; use more nodes, a larger instance type or fewer workers")
    if s.celery_worker_autoscaling:
        at_max = fit(all_pods(s, workers=s.celery_worker_max_replicas, values=values), largest, s.node_max_size)
        if not at_max.fits:
            p.append(f"celery_worker_max_replicas: {s.celery_worker_max_replicas} workers could never be scheduled "
                     f"on node_max_size: {at_max.describe()}; lower the maximum or raise node_max_size")
    return p


def monthly_cost(settings: Settings, nodes: int) -> float:
    """On-demand cost of `nodes` of the most expensive listed type, USD per month."""
    return nodes * max(INSTANCE_TYPES[t].usd_per_hour for t in settings.node_instance_types) * HOURS_PER_MONTH
