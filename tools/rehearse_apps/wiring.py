"""The cluster's network, on loopback, inside a private network and mount namespace.

Each rendered pod gets a loopback address of its own (127.0.1.N). Each rendered Service gets
the names the cluster's DNS would give it (`name`, `name.ns`, `name.ns.svc`,
`name.ns.svc.cluster.local`) in a hosts file bind-mounted over /etc/hosts:

- a headless Service, or one whose every port equals its target port, resolves to its pod's
  address: the pod's process answers on the port it listens on;
- a Service that maps a port to a different target port (the API server's 80 -> 8080) gets
  an address of its own (127.0.0.N) where a forwarder listens on exactly the Service's ports
  and forwards each to the target port on the pod's address. Nothing else listens there, so
  a port the Service does not offer is refused, as on the cluster.

A name the Services do not offer is not in the hosts file and the namespace has no DNS
server: it does not resolve. Limitation: a process that listens on all addresses (PgBouncer's
`listen_addr = *`, Redis, Airflow's log servers) answers on every loopback address.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from tools.chart_render import Rendered, pod_labels, pod_spec

NETWORK_SCHEMES = ("http", "https", "postgresql", "postgres", "redis", "rediss", "psycopg", "psycopg2", "asyncpg")
INSIDE_MARKER = "REHEARSE_APPS_NAMESPACE"


class WiringError(RuntimeError):
    pass


# --- the namespace ------------------------------------------------------------------------------


def namespace_problem() -> str | None:
    """Why this machine cannot create the run's namespace, or None."""
    if sys.platform != "linux":
        return ("the apps rehearsal needs Linux network and mount namespaces (unshare); on macOS run it in a "
                "Linux container: docker run --privileged ... make rehearse-apps")
    if os.geteuid() != 0:
        return "the apps rehearsal needs root (unshare --net --mount, mount --bind): run it with sudo or in CI"
    for tool in ("unshare", "ip", "mount"):
        if not shutil.which(tool):
            return f"`{tool}` is missing (util-linux / iproute2)"
    return None


def reexec_inside(argv: list[str]) -> int:
    """Run this module again in a fresh network and mount namespace; return its exit code.

    Ctrl-C in a terminal reaches the inner run directly (same process group); SIGTERM to this
    process is passed on to it. Either way the inner run cleans up before it exits, and if
    `unshare` itself dies the inner run gets SIGTERM (--kill-child)."""
    import signal

    env = dict(os.environ, **{INSIDE_MARKER: "1"})
    process = subprocess.Popen(["unshare", "--net", "--mount", "--fork", "--kill-child=SIGTERM",
                                "--propagation", "private", sys.executable, "-m", "tools.rehearse_apps", *argv],
                               env=env)

    def forward(signum, frame):
        for child in _children(process.pid) or [process.pid]:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, handler) for sig, handler in
                ((signal.SIGINT, signal.SIG_IGN), (signal.SIGTERM, forward), (signal.SIGHUP, forward))}
    try:
        return process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def inside_namespace() -> bool:
    return os.environ.get(INSIDE_MARKER) == "1"


def set_up_namespace(hosts_file: Path) -> None:
    """Loopback up, our hosts file as /etc/hosts, a private /opt for the pods' /opt/airflow."""
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True, text=True)  # noqa: E731
    run("ip", "link", "set", "lo", "up")
    run("mount", "--bind", str(hosts_file), "/etc/hosts")
    run("mount", "-t", "tmpfs", "-o", "mode=0755", "rehearse-opt", "/opt")
    os.makedirs("/opt/airflow", exist_ok=True)


# --- the address plan ---------------------------------------------------------------------------


@dataclass
class ServicePort:
    name: str
    port: int
    target_port: int
    protocol: str


@dataclass
class Service:
    name: str
    address: str
    pod: str | None  # the workload it selects
    ports: list[ServicePort]
    forwarded: bool  # an address of its own, with forwarders


@dataclass
class Wiring:
    namespace: str
    pod_address: dict[str, str]  # workload name -> address
    services: list[Service]
    extra_hosts: dict[str, str] = field(default_factory=dict)  # name -> address (e.g. the database)

    def names(self, service: Service) -> list[str]:
        n, ns = service.name, self.namespace
        return [n, f"{n}.{ns}", f"{n}.{ns}.svc", f"{n}.{ns}.svc.cluster.local"]

    def hosts_file(self) -> str:
        lines = ["127.0.0.1 localhost", f"127.0.0.1 {socket.gethostname()}", "::1 localhost ip6-localhost"]
        lines += [f"{s.address} {' '.join(self.names(s))}" for s in self.services]
        lines += [f"{address} {name}" for name, address in self.extra_hosts.items()]
        return "\n".join(lines) + "\n"

    def url_problem(self, url: str) -> str | None:
        """Why `url` would not reach anything on the cluster (a name or port no Service offers)."""
        parsed = urlparse(url)
        if parsed.scheme.split("+")[-1] not in NETWORK_SCHEMES:
            return None  # s3://, file://: not a connection to a Service
        try:
            host, port = parsed.hostname, parsed.port
        except ValueError:
            return f"{url}: not a valid URL"
        if not host or host in ("localhost", "127.0.0.1") or host in self.extra_hosts:
            return None
        found = [s for s in self.services if host in self.names(s)]
        if not found:
            return f"{host} (in {_redact(url)}) is not the name of any Service"
        port = port or {"http": 80, "https": 443}.get(parsed.scheme.split("+")[-1])
        offered = [p.port for p in found[0].ports]
        if port is not None and port not in offered:
            return (f"{_redact(url)} uses port {port}, which Service {found[0].name} does not offer "
                    f"(it offers {', '.join(map(str, offered))})")
        return None

    def service(self, name: str) -> Service:
        [found] = [s for s in self.services if s.name == name]
        return found

    def url(self, service: str, port_name: str | None = None) -> str:
        s = self.service(service)
        port = next(p.port for p in s.ports if port_name in (None, p.name))
        return f"http://{s.name}:{port}"


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def container_port(workload: dict, target) -> int:
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for container in pod_spec(workload)["containers"]:
        for port in container.get("ports", []):
            if port.get("name") == target:
                return int(port["containerPort"])
    raise WiringError(f"{workload['metadata']['name']} has no container port named {target!r}")


def plan(rendered: Rendered) -> Wiring:
    workloads = [w for w in rendered.workloads() if w["kind"] != "Job"]
    pod_address = {w["metadata"]["name"]: f"127.0.1.{i}" for i, w in enumerate(workloads, start=1)}
    services = []
    for i, svc in enumerate(rendered.of_kind("Service"), start=10):
        selector = svc["spec"].get("selector") or {}
        selected = [w for w in workloads if selector and selector.items() <= pod_labels(w).items()]
        if len(selected) > 1:
            raise WiringError(f"Service {svc['metadata']['name']} selects {len(selected)} workloads")
        workload = selected[0] if selected else None
        ports = [ServicePort(p.get("name", ""), int(p["port"]),
                             container_port(workload, p.get("targetPort", p["port"])) if workload else int(p["port"]),
                             p.get("protocol", "TCP")) for p in svc["spec"]["ports"]]
        headless = svc["spec"].get("clusterIP") == "None"
        forwarded = not headless and any(p.port != p.target_port for p in ports)
        pod = workload["metadata"]["name"] if workload else None
        address = f"127.0.0.{i}" if forwarded or pod is None else pod_address[pod]
        services.append(Service(svc["metadata"]["name"], address, pod, ports, forwarded))
    return Wiring(rendered.namespace, pod_address, services)


# --- forwarders -------------------------------------------------------------------------------------


class Forwarders:
    """TCP forwarders for the Services that map a port to another target port, in one thread."""

    def __init__(self, wiring: Wiring) -> None:
        self.wiring = wiring
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="service-forwarders")
        self.servers: list[asyncio.base_events.Server] = []
        self.connections = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _handler(self, address: str, port: int):
        async def handle(reader, writer):
            self.connections += 1
            try:
                up_reader, up_writer = await asyncio.open_connection(address, port)
            except OSError:
                writer.close()  # the pod does not listen: the client sees the connection close
                return
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        return handle

    def start(self) -> "Forwarders":
        self.thread.start()
        for service in self.wiring.services:
            if not service.forwarded:
                continue
            pod_address = self.wiring.pod_address[service.pod]
            for p in service.ports:
                if p.protocol != "TCP":
                    raise WiringError(f"cannot forward {p.protocol} port {p.port} of {service.name}")
                server = asyncio.run_coroutine_threadsafe(asyncio.start_server(
                    self._handler(pod_address, p.target_port), service.address, p.port), self.loop).result(10)
                self.servers.append(server)
        return self

    def stop(self) -> None:
        async def close():
            for server in self.servers:
                server.close()
        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


class UdpSink:
    """Receives what is sent to a UDP Service whose pod is not run (StatsD): counts datagrams,
    and keeps each line with its arrival time (seconds on `clock`) when `keep` is set."""

    def __init__(self, address: str, port: int, *, keep: bool = False, clock=time.monotonic) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, port))
        self.sock.settimeout(0.5)
        self.datagrams = 0
        self.keep = keep
        self.clock = clock
        self.lines: list[str] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"udp-sink-{port}")

    def _run(self) -> None:
        from tools.rehearse_apps.statsd_capture import parse_lines

        while not self._stop.is_set():
            try:
                datagram = self.sock.recv(65536)
                self.datagrams += 1
                if self.keep:
                    self.lines += parse_lines(self.clock(), datagram)
            except TimeoutError:
                continue
            except OSError:
                return

    def start(self) -> "UdpSink":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.sock.close()
