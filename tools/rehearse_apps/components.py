"""Which rendered containers run, and in what order: PgBouncer and Redis, the two jobs, then
every Airflow component with its init containers, DAGs delivered as git-sync would.

Not run, and why: the log-groomer sidecars (housekeeping of local log files), the git-sync
sidecars after their initial sync (the checkout does not change during a run), PgBouncer's
metrics exporter and StatsD's exporter (metrics only: a UDP sink receives StatsD's traffic).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from tools.chart_render import Rendered, pod_spec
from tools.rehearse_apps.pods import PodError, PodFactory, Process, run_to_completion

SKIPPED_CONTAINER_SUFFIXES = ("-log-groomer",)
SKIPPED_CONTAINERS = ("git-sync", "metrics-exporter", "statsd")
GIT_SYNC_INIT = "git-sync-init"
ERROR_WORDS = ("ERROR", "Error", "error:", "refused", "Traceback", "FATAL")
JOB_ORDER = ("run-airflow-migrations", "create-user")


def git_sync(repo: Path, dags_root: Path, env: dict[str, str], timeout: float = 60) -> None:
    """What git-sync's init container leaves in its root: a checkout of the repository's HEAD
    under `.worktrees/<commit>` and the link GITSYNC_LINK pointing at it."""
    link = env.get("GITSYNC_LINK") or env.get("GIT_SYNC_DEST") or "repo"
    depth = env.get("GITSYNC_DEPTH", "1")
    dags_root.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True, timeout=timeout).stdout.strip()
    worktree = dags_root / ".worktrees" / commit
    if not worktree.exists():  # a restarted pod finds its earlier checkout (the same commit)
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", "--depth", depth, f"file://{repo}",
                        str(worktree)], capture_output=True, text=True, check=True, timeout=timeout)
    (dags_root / link).unlink(missing_ok=True)
    (dags_root / link).symlink_to(Path(".worktrees") / commit)


class Components:
    def __init__(self, rendered: Rendered, pods: PodFactory, repo: Path, *, extra_env: dict[str, dict[str, str]]):
        self.rendered = rendered
        self.pods = pods
        self.repo = repo
        self.extra_env = extra_env  # per workload name
        self.processes: list[Process] = []
        self.lock = threading.Lock()

    def _runnable(self, container: dict) -> bool:
        name = container["name"]
        return name not in SKIPPED_CONTAINERS and not name.endswith(SKIPPED_CONTAINER_SUFFIXES)

    def jobs(self, timeout: float = 300) -> list[str]:
        ran = []
        jobs = {pod_spec(j)["containers"][0]["name"]: j for j in self.rendered.of_kind("Job")}
        for container_name in JOB_ORDER:
            job = jobs[container_name]
            name = job["metadata"]["name"]
            container = self.pods.container("Job", name, container_name, extra_env=self.extra_env.get(name))
            run_to_completion(container, timeout)
            ran.append(name)
        return ran

    def run_job(self, name: str, timeout: float = 300) -> None:
        """A Job's containers, in order, each to completion."""
        for container in pod_spec(self.rendered.get("Job", name))["containers"]:
            run_to_completion(self.pods.container("Job", name, container["name"], extra_env=self.extra_env.get(name)),
                              timeout)

    def init(self, kind: str, name: str, *, init_timeout: float = 180) -> None:
        """A pod's init containers, in order."""
        workload = self.rendered.get(kind, name)
        spec = pod_spec(workload)
        extra = self.extra_env.get(name)
        for init in spec.get("initContainers", []):
            container = self.pods.container(kind, name, init["name"], extra_env=extra)
            if init["name"] == GIT_SYNC_INIT:
                dags = next(m for m in init["volumeMounts"] if m["mountPath"] == container.env.get("GITSYNC_ROOT", "/git"))
                # The same volume is mounted into the Airflow container: find where.
                main = next(c for c in spec["containers"] if any(m["name"] == dags["name"]
                                                                  for m in c.get("volumeMounts", [])))
                mount = next(m for m in main["volumeMounts"] if m["name"] == dags["name"])
                folder = self.pods.pod_folder(workload) / "opt-airflow" / Path(mount["mountPath"]).relative_to("/opt/airflow")
                git_sync(self.repo, folder, container.env)
            elif self._runnable(init):
                run_to_completion(container, init_timeout)

    def start_main(self, kind: str, name: str) -> None:
        """A pod's main containers. From the main thread: a child is killed when the thread that
        started it ends (PR_SET_PDEATHSIG)."""
        spec = pod_spec(self.rendered.get(kind, name))
        extra = self.extra_env.get(name)
        for main in spec["containers"]:
            if self._runnable(main):
                process = Process(self.pods.container(kind, name, main["name"], extra_env=extra))
                with self.lock:
                    self.processes.append(process)

    def start_all(self, workloads: list[tuple[str, str]]) -> None:
        """Pods in parallel, as the cluster would schedule them (init containers, then main
        containers); the first failure is raised."""
        errors: list[BaseException] = []

        def one(kind: str, name: str) -> None:
            try:
                self.init(kind, name)
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        threads = [threading.Thread(target=one, args=w, name=f"pod-{w[1]}") for w in workloads]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        for kind, name in workloads:
            self.start_main(kind, name)

    def stop_pods(self, names: set[str], longest_grace: float = 60.0) -> None:
        """Stop the running containers of these pods as the kubelet does when a rollout replaces
        them: SIGTERM to each container's main process only (a Celery worker then finishes its
        tasks, their log uploads included), up to the pod's terminationGracePeriodSeconds
        (default 30, at most `longest_grace` here), then SIGKILL to whatever is left."""
        with self.lock:
            stopping = [p for p in self.processes if p.container.pod in names]
            self.processes = [p for p in self.processes if p.container.pod not in names]
        for process in stopping:
            if process.alive():
                process.popen.send_signal(signal.SIGTERM)
        for process in stopping:
            workload = next(w for w in self.rendered.workloads() if w["metadata"]["name"] == process.container.pod)
            grace = min(float(pod_spec(workload).get("terminationGracePeriodSeconds", 30)), longest_grace)
            try:
                process.popen.wait(grace)
            except subprocess.TimeoutExpired:
                pass
            try:  # the container's other processes end with it
                os.killpg(process.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.popen.wait()

    def check_alive(self) -> None:
        for process in self.processes:
            if not process.alive():
                raise PodError(f"{process.label} exited with {process.popen.returncode}:\n{process.log_tail()}")

    def error_lines(self, per_process: int = 6) -> str:
        """The last lines of each component's output that name an error: what a failed run shows."""
        out = []
        for process in self.processes:
            try:
                lines = process.log_path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            hits = [line for line in lines if any(w in line for w in ERROR_WORDS)][-per_process:]
            if hits:
                out.append(f"  {process.label} ({process.log_path.name}):")
                out += [f"    | {line[:300]}" for line in hits]
        return "\n".join(out)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to every process at once, then SIGKILL to what is left after `timeout`."""
        for process in self.processes:
            process.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(p.alive() for p in self.processes):
            time.sleep(0.2)
        for process in self.processes:
            process.stop(timeout=0)
