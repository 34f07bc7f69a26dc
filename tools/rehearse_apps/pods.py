"""Run a rendered container as a local process: its command, args and env as rendered.

- env: the container's `env`, with `secretKeyRef`s resolved from the filled Secrets and
  `configMapKeyRef`s from the rendered ConfigMaps; `$(VAR)` in command and args expanded as
  the kubelet does. The image's own environment is replaced by a minimal one (PATH with
  Airflow's virtualenv, HOME, LANG) plus `extra_env` (what the cluster injects: the IRSA
  role's AWS settings, here pointing S3 at moto).
- volumes: each pod gets a folder standing in for its filesystem. Mounts under /opt/airflow,
  /etc/pgbouncer and the pod's /tmp are bind-mounted, in a private mount namespace of the
  container (`unshare --mount`), from that folder; ConfigMap and Secret items are written
  into it, emptyDir volumes are folders in it.
- each process gets its own session, and is killed if the rehearsal dies.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tools.chart_render import Rendered, pod_spec

VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
# Where a pod's filesystem is stood in for, per mount root: the pod folder's sub-folder.
MOUNT_ROOTS = {"/opt/airflow": "opt-airflow", "/etc/pgbouncer": "etc-pgbouncer"}
# What every container runs from: this checkout and its virtualenv.
CODE_PATHS = (Path(__file__).resolve().parents[2], Path(sys.prefix).resolve())


class PodError(RuntimeError):
    pass


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Container:
    pod: str
    name: str
    argv: list[str]
    env: dict[str, str]
    folder: Path  # the pod's folder
    binds: list[tuple[Path, str]]  # (source in the pod folder, mount point)
    workdir: Path


class PodFactory:
    def __init__(self, rendered: Rendered, secrets: dict[str, dict[str, str]], base: Path, *,
                 base_env: dict[str, str], airflow_files: dict[str, str] | None = None) -> None:
        self.airflow_files = airflow_files or {}  # path under /opt/airflow -> text, in every pod
        self.rendered = rendered
        self.secrets = secrets
        self.base = base
        self.base_env = base_env

    def workload(self, kind: str, name: str) -> dict:
        return self.rendered.get(kind, name)

    def pod_folder(self, workload: dict) -> Path:
        folder = self.base / "pods" / workload["metadata"]["name"]
        (folder / "tmp").mkdir(parents=True, exist_ok=True)
        os.chmod(folder / "tmp", 0o1777)
        for root in MOUNT_ROOTS.values():
            (folder / root).mkdir(exist_ok=True)
        for rel, text in self.airflow_files.items():
            (folder / MOUNT_ROOTS["/opt/airflow"] / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / MOUNT_ROOTS["/opt/airflow"] / rel).write_text(text)
        return folder

    def _value(self, ref: dict, what: str) -> str:
        if "secretKeyRef" in ref:
            r = ref["secretKeyRef"]
            try:
                return self.secrets[r["name"]][r["key"]]
            except KeyError:
                raise PodError(f"{what}: Secret {r['name']} has no key {r['key']} (the apps stack does not create it)")
        if "configMapKeyRef" in ref:
            r = ref["configMapKeyRef"]
            return self.rendered.get("ConfigMap", r["name"])["data"][r["key"]]
        raise PodError(f"{what}: unsupported valueFrom {ref}")

    def _volume_files(self, workload: dict, volume_name: str) -> dict[str, str] | None:
        """A ConfigMap's or Secret's items, or None for an emptyDir/PVC-like volume."""
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        volume = volumes.get(volume_name)
        if volume is None:  # a volumeClaimTemplate (StatefulSet): a folder
            return None
        if "configMap" in volume:
            data = self.rendered.get("ConfigMap", volume["configMap"]["name"]).get("data", {})
        elif "secret" in volume:
            name = volume["secret"]["secretName"]
            if name not in self.secrets:
                raise PodError(f"volume {volume_name}: Secret {name} is not created by the apps stack")
            data = self.secrets[name]
        else:
            return None
        items = (volume.get("configMap") or volume.get("secret") or {}).get("items")
        if items:
            return {i["path"]: data[i["key"]] for i in items}
        return dict(data)

    def container(self, kind: str, workload_name: str, container_name: str, *,
                  extra_env: dict[str, str] | None = None) -> Container:
        workload = self.workload(kind, workload_name)
        spec = pod_spec(workload)
        [c] = [c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == container_name]
        folder = self.pod_folder(workload)
        env = dict(self.base_env)
        for item in c.get("env", []):
            what = f"{workload_name}/{container_name} env {item['name']}"
            value = self._value(item["valueFrom"], what) if "valueFrom" in item else str(item.get("value", ""))
            env[item["name"]] = VAR_REF.sub(lambda m: env.get(m.group(1), m.group(0)), value)
        env.update(extra_env or {})
        argv = [VAR_REF.sub(lambda m: env.get(m.group(1), m.group(0)), a)
                for a in (c.get("command") or []) + (c.get("args") or [])]
        binds: list[tuple[Path, str]] = []
        roots = dict(MOUNT_ROOTS)
        for mount in c.get("volumeMounts", []):
            # Any other folder under /opt (a tmpfs of the run's namespace) can be a mount point too.
            parts = Path(mount["mountPath"]).parts
            if parts[:2] == ("/", "opt") and len(parts) > 2 and not any(
                    mount["mountPath"] == r or mount["mountPath"].startswith(r + "/") for r in roots):
                root = "/opt/" + parts[2]
                roots[root] = "opt-" + parts[2]
                os.makedirs(root, exist_ok=True)
                (folder / roots[root]).mkdir(exist_ok=True)
        for root, sub in roots.items():
            if any(m["mountPath"].startswith(root) for m in c.get("volumeMounts", [])) or \
                    env.get("AIRFLOW_HOME") == root:
                binds.append((folder / sub, root))
        for mount in c.get("volumeMounts", []):
            path = mount["mountPath"]
            root = next((r for r in roots if path == r or path.startswith(r + "/")), None)
            if root is None:
                continue  # outside what the rehearsal stands in for (e.g. /git, /data): see the caller
            target = folder / roots[root] / os.path.relpath(path, root)
            files = self._volume_files(workload, mount["name"])
            if files is None:
                target.mkdir(parents=True, exist_ok=True)
            elif mount.get("subPath") and mount["subPath"] not in files:
                target.mkdir(parents=True, exist_ok=True)  # as the kubelet does for a key the volume lacks
            elif mount.get("subPath"):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(files[mount["subPath"]])
            else:
                target.mkdir(parents=True, exist_ok=True)
                for rel, text in files.items():
                    (target / rel).write_text(text)
        (folder / "tmp").mkdir(parents=True, exist_ok=True)
        if any(path == Path("/tmp") or Path("/tmp") in path.parents for path in CODE_PATHS):
            # A checkout under /tmp (a CI clone): a private /tmp would hide the interpreter.
            env = {**env, "TMPDIR": str(folder / "tmp")}
        else:
            binds.append((folder / "tmp", "/tmp"))  # last: the run folder may itself be under /tmp
        return Container(workload_name, container_name, argv, env, folder, binds, folder)


class Process:
    """One started container; its output goes to `<pod folder>/<container>.log`."""

    def __init__(self, container: Container) -> None:
        if not container.argv:
            raise PodError(f"{container.pod}/{container.name} has neither command nor args")
        self.container = container
        self.log_path = container.folder / f"{container.name}.log"
        mounts = [f"mount --bind {shlex.quote(str(src))} {shlex.quote(dst)}; " for src, dst in container.binds]
        script = (f"set -e; {''.join(mounts)}cd {shlex.quote(str(container.workdir))} 2>/dev/null || cd /; "
                  'exec "$@"')
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh",
                 *container.argv],
                env=container.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None)

    @property
    def label(self) -> str:
        return f"{self.container.pod}/{self.container.name}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise PodError(f"{self.label} did not finish within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no output)"
        return "\n".join(f"    | {line}" for line in text[-lines:])

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self.popen.poll() is not None:
                    return
                time.sleep(0.1)


def run_to_completion(container: Container, timeout: float) -> Process:
    process = Process(container)
    code = process.wait(timeout)
    if code != 0:
        raise PodError(f"{process.label} exited with {code}:\n{process.log_tail()}")
    return process
