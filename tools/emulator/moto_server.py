"""One moto server process on 127.0.0.1: free port, wait until it answers, stop it by its process.

    with MotoServer(log_path=tmp / "moto.log") as moto:
        boto3.client("ec2", endpoint_url=moto.endpoint, ...)

Its output goes to `log_path` (one line per request), for debugging a failed cycle.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"

# Without it every attachment of an AWS-managed policy (AmazonEKSClusterPolicy, ...) fails
# with 404 NoSuchEntity; moto reads it at start only (see docs/emulator.md).
SERVER_ENV = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
# The project's root: the server module below is ours, so the child must import from here.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# moto.server's main behind our fidelity fixes (tools/emulator/moto_faithful.py says which and why).
SERVER_MODULE = "tools.emulator.moto_faithful"


class MotoError(RuntimeError):
    pass


def _die_with_parent() -> None:
    """In the child, before exec (Linux): SIGTERM it when the process that started it dies,
    even by SIGKILL, so no moto outlives its test run or rehearsal."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class MotoServer:
    def __init__(self, log_path: Path, *, port: int | None = None, start_timeout: float = 30.0) -> None:
        self.log_path = Path(log_path)
        self.port = port
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise MotoError("moto is not started")
        return f"http://{HOST}:{self.port}"

    def start(self) -> "MotoServer":
        if self.process is not None:
            raise MotoError("moto is already started")
        self.port = self.port or free_port()
        env = dict(os.environ, **SERVER_ENV)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        # moto must not forward anything anywhere: no proxy for its own traffic either.
        for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env.pop(proxy, None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", SERVER_MODULE, "-H", HOST, "-p", str(self.port)],
                cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                # Its own process group: a Ctrl-C in the terminal reaches us, and we stop it
                # in order (destroy first, then moto), rather than it dying under Terraform.
                start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        atexit.register(self.stop)  # a backstop: an interpreter that exits stops its moto
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        url = f"{self.endpoint}/moto-api/data.json"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
        while True:
            if self.process.poll() is not None:
                raise MotoError(f"moto exited with {self.process.returncode} before answering; "
                                f"see its log {self.log_path}:\n{self.log_tail()}")
            try:
                with opener.open(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise MotoError(f"moto did not answer on {url} within {self.start_timeout:.0f} s; "
                                f"see its log {self.log_path}")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate our moto process (and only it); kill it if it does not exit in `timeout`."""
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
