"""Traffic through the REST API, as a user would send it: sign in, trigger, wait, measure.

Every request goes to the API server's Service by its rendered name and port.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

TERMINAL_FAILED = ("failed",)


class TrafficError(RuntimeError):
    pass


def _parse(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None


class ApiClient:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
        self.token: str | None = None

    def request(self, method: str, path: str, body: dict | None = None, *, ok=(200, 201), timeout: float = 30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with self.opener.open(req, timeout=timeout) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read().decode(errors="replace")
        if status not in ok:
            raise TrafficError(f"{method} {path} -> {status}: {text[:500]}")
        return json.loads(text) if text else None

    def wait_healthy(self, timeout: float, check: Callable[[], None]) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            check()
            try:
                health = self.request("GET", "/api/v2/monitor/health", timeout=5)
                if health.get("metadatabase", {}).get("status") == "healthy":
                    return
                last = json.dumps(health)
            except (OSError, TrafficError) as err:
                last = str(err)
            time.sleep(1)
        raise TrafficError(f"the API server was not healthy through its Service within {timeout:.0f} s: {last}")

    def get_page(self, path: str, timeout: float = 30) -> str:
        """An HTML page, as a browser asks for it (no token)."""
        with self.opener.open(urllib.request.Request(self.base + path, headers={"Accept": "text/html"}),
                              timeout=timeout) as response:
            return response.read().decode(errors="replace")

    def sign_in(self, username: str, password: str) -> None:
        self.token = self.request("POST", "/auth/token", {"username": username, "password": password},
                                  ok=(200, 201))["access_token"]

    def wait_dag(self, dag_id: str, timeout: float, check: Callable[[], None]) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check()
            try:
                self.request("GET", f"/api/v2/dags/{dag_id}")
                return
            except TrafficError:
                time.sleep(1)
        raise TrafficError(f"DAG {dag_id} was not parsed (not in the API) within {timeout:.0f} s")

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str) -> str:
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=200")["dag_runs"]

    def task_instances(self, dag_id: str) -> list[dict]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances?limit=1000")["task_instances"]

    def wait_runs(self, dag_id: str, run_ids: set[str] | None, timeout: float, check: Callable[[], None],
                  on_first_success: Callable[[str], None] | None = None) -> dict[str, dict]:
        """Wait for `run_ids` (None: every run the DAG has now) to succeed; fail at the first
        task that fails or is up for retry."""
        if run_ids is None:
            run_ids = {run["dag_run_id"] for run in self.runs(dag_id)}
        deadline = time.monotonic() + timeout
        done: dict[str, dict] = {}
        while time.monotonic() < deadline:
            check()
            # Everything here should succeed at the first try: a retry is a failure of the rehearsal.
            # Any run of the DAG counts: unpausing a scheduled DAG creates a run of its own.
            bad = [ti for ti in self.task_instances(dag_id)
                   if ti["state"] in ("up_for_retry", "failed", "upstream_failed")]
            if bad:
                raise TrafficError(f"{dag_id}: task {bad[0]['task_id']} of {bad[0]['dag_run_id']} is {bad[0]['state']} "
                                   f"(try {bad[0].get('try_number')}, host {bad[0].get('hostname') or '-'}):\n"
                                   f"{self.failure_details(dag_id)}")
            for run in self.runs(dag_id):
                if run["dag_run_id"] in run_ids and run["state"] in ("success", "failed") and run["dag_run_id"] not in done:
                    done[run["dag_run_id"]] = run
                    if run["state"] == "failed":
                        raise TrafficError(f"{dag_id} run {run['dag_run_id']} failed:\n{self.failure_details(dag_id)}")
                    if on_first_success:
                        on_first_success(dag_id)
            if run_ids <= done.keys():
                return done
            time.sleep(1)
        states = {r["dag_run_id"]: r["state"] for r in self.runs(dag_id) if r["dag_run_id"] in run_ids}
        raise TrafficError(f"{dag_id}: {len(run_ids) - len(done)} of {len(run_ids)} runs not finished within "
                           f"{timeout:.0f} s: {sorted(set(states.values()))}\n{self.failure_details(dag_id)}")

    def failure_details(self, dag_id: str) -> str:
        lines = []
        try:
            for ti in self.task_instances(dag_id):
                if ti["state"] not in ("success", "skipped"):
                    lines.append(f"  {ti['task_id']} of {ti['dag_run_id']}: {ti['state']} "
                                 f"(try {ti.get('try_number')}, host {ti.get('hostname') or '-'})")
        except (OSError, TrafficError) as err:
            lines.append(f"  (task instances unavailable: {err})")
        return "\n".join(lines[:10])


@dataclass
class Throughput:
    runs: int
    seconds: float
    runs_per_minute: float
    p50: float
    p95: float
    task_id: str

    def __str__(self) -> str:
        return (f"{self.runs} runs in {self.seconds:.1f} s = {self.runs_per_minute:.1f} runs/min; "
                f"{self.task_id} latency queued->success p50 {self.p50:.2f} s, p95 {self.p95:.2f} s")


def measure(api: ApiClient, dag_id: str, count: int, timeout: float, check: Callable[[], None]) -> Throughput:
    started = time.monotonic()
    run_ids = {api.trigger(dag_id) for _ in range(count)}
    api.wait_runs(dag_id, run_ids, timeout, check)
    seconds = time.monotonic() - started
    tis = [ti for ti in api.task_instances(dag_id) if ti["dag_run_id"] in run_ids and ti.get("hostname")]
    latencies = sorted((_parse(ti["end_date"]) - _parse(ti["queued_when"])).total_seconds()
                       for ti in tis if ti.get("queued_when") and ti.get("end_date"))
    if not latencies:
        raise TrafficError(f"no task of {dag_id} ran on a worker")
    q = statistics.quantiles(latencies, n=20, method="inclusive") if len(latencies) > 1 else latencies * 19
    return Throughput(count, seconds, count * 60 / seconds, statistics.median(latencies), q[18],
                      tis[0]["task_id"])


def check_remote_logs(api: ApiClient, dag_ids: list[str], s3, bucket: str, prefix: str, timeout: float = 60) -> int:
    """Every task instance that ran on a worker has its log under `prefix` in the bucket."""
    expected = []
    for dag_id in dag_ids:
        for ti in api.task_instances(dag_id):
            if ti.get("hostname") and ti["state"] == "success":
                expected.append(f"dag_id={dag_id}/run_id={ti['dag_run_id']}/task_id={ti['task_id']}/")
    deadline = time.monotonic() + timeout
    while True:
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
            keys += [o["Key"] for o in page.get("Contents", [])]
        missing = [e for e in expected if not any(e in k for k in keys)]
        if not missing:
            return len(expected)
        if time.monotonic() > deadline:
            raise TrafficError(f"{len(missing)} of {len(expected)} task logs are not in s3://{bucket}/{prefix}, "
                               f"e.g. {missing[:3]}; found {len(keys)} objects: {keys[:5]}")
        time.sleep(2)
