#!/usr/bin/env python
"""Synthesis benchmark: wall time and peak memory, side by side, each case in fresh processes.

Cases:
  floor       import the three provider packages (eagerly) and synthesize an empty stack
  full-eager  synthesize both stacks of this app, provider packages imported whole
  full-lazy   synthesize both stacks of this app, only the provider submodules it uses

Peak memory is the largest sum of RSS over the process and its children (the jsii
runtime is a Node.js child process), sampled every 20 ms from /proc.

Usage: .venv/bin/python scripts/bench_synth.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EAGER_SWITCH = "CDKTF_EAGER_PROVIDER_IMPORT"
CASES = {
    "floor": "eager import of the aws, helm, kubernetes providers + an empty stack",
    "full-eager": "both stacks of this app, CDKTF_EAGER_PROVIDER_IMPORT=1",
    "full-lazy": "both stacks of this app, lazy provider loading (the default)",
}


def probe(case: str, outdir: str) -> None:
    """Runs inside the measured process."""
    sys.path.insert(0, str(REPO))
    if case == "floor":
        import cdktf_cdktf_provider_aws  # noqa: F401  the whole package, as any import of it does
        import cdktf_cdktf_provider_helm  # noqa: F401
        import cdktf_cdktf_provider_kubernetes  # noqa: F401
        from cdktf import App, TerraformStack

        app = App(outdir=outdir)
        TerraformStack(app, "empty")
        app.synth()
    elif case in ("full-eager", "full-lazy"):
        os.environ[EAGER_SWITCH] = "1" if case == "full-eager" else "0"
        from airflow_platform.app import synthesize
        from airflow_platform.settings import load_settings

        synthesize(load_settings(), outdir)
    else:
        raise SystemExit(f"unknown case {case!r}; known: {', '.join(CASES)}")


def tree_rss_kib(pid: int) -> int:
    """RSS of `pid` and all its descendants, KiB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE") // 1024
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def measure(case: str, env: dict[str, str]) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as outdir:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--probe", case, outdir], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss_kib(proc.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{case} failed:\n{proc.stderr.read().decode()}")
    return wall, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--probe", nargs=2, metavar=("CASE", "OUTDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(*args.probe)
        return

    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="1", CHECKPOINT_DISABLE="1")
    runs: dict[str, list[tuple[float, int]]] = {case: [] for case in CASES}
    for _ in range(args.runs):  # interleaved, so a cold disk cache does not favour one case
        for case in CASES:
            runs[case].append(measure(case, env))
    results = {case: (statistics.median(w for w, _ in r), max(p for _, p in r)) for case, r in runs.items()}

    floor_wall, floor_peak = results["floor"]
    print(f"synthesis benchmark: median wall time and max peak RSS of {args.runs} runs, each in a fresh process")
    print(f"{'case':<11} {'wall s':>8} {'peak MiB':>9} {'wall/floor':>11} {'peak/floor':>11}  what")
    for case, (wall, peak) in results.items():
        print(f"{case:<11} {wall:>8.2f} {peak / 1024:>9.0f} {wall / floor_wall:>11.2f} {peak / floor_peak:>11.2f}"
              f"  {CASES[case]}")
    lazy_wall, lazy_peak = results["full-lazy"]
    eager_wall, eager_peak = results["full-eager"]
    print("targets: full-eager/floor <= 1.15 (wall and peak); full-lazy wall <= 0.3 x floor, "
          "full-lazy peak <= full-eager peak")
    print(f"full-lazy vs floor: {lazy_wall / floor_wall:.2f}x wall; full-lazy vs full-eager: "
          f"{lazy_wall / eager_wall:.2f}x wall, {lazy_peak / eager_peak:.2f}x peak memory")


if __name__ == "__main__":
    main()
