#!/usr/bin/env python
"""Measure how long each DAG file takes to parse.

Each file is parsed in its own fresh Python process, the way the DAG processor gives
every file its own process, so one file's imports never make another look fast. In
that process Airflow itself is imported first and not counted (the DAG processor has
it loaded before it parses anything). Then the file is parsed with DagBag:

* cold: the first parse, including the first import of whatever the file imports
  (operators, providers, libraries); the conservative figure, judged against the target;
* warm min / median: re-parses of the same file, the cost of the file's own top-level
  code once its imports are cached.

Runs with a throw-away AIRFLOW_HOME and never fails: it measures, it does not assert.

    .venv/bin/python scripts/bench_dag_parse.py [--repeat N] [--dags-folder DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 0.5
RESULT_MARKER = "BENCH_RESULT "


def _measure_in_this_process(dag_file: str, repeat: int) -> dict:
    started = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    airflow_import = time.perf_counter() - started

    timings, dag_ids, errors = [], [], {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        bag = DagBag(dag_folder=dag_file)
        timings.append(time.perf_counter() - t0)
        dag_ids, errors = sorted(bag.dag_ids), {k: str(v) for k, v in bag.import_errors.items()}
    return {"airflow_import": airflow_import, "timings": timings, "dag_ids": dag_ids, "errors": errors}


def _isolated_env(airflow_home: Path, dags_folder: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_VAR_", "AIRFLOW_CONN_")) and k != "AIRFLOW_CONFIG"
    }
    env.update(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{airflow_home / 'airflow.db'}",
        # Parse-time log lines would only drown the table.
        AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR",
    )
    return env


def _run_child(dag_file: Path, repeat: int, env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(dag_file), "--repeat", str(repeat)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"crash": f"exit code {proc.returncode}: " + " | ".join(tail)}


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    # First column (file name) left-aligned, numbers right-aligned.
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dags-folder", type=Path, default=REPO_ROOT / "dags")
    parser.add_argument("--repeat", type=int, default=5, help="parses per file (first one is cold)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeat = max(args.repeat, 2)

    if args.child:
        print(RESULT_MARKER + json.dumps(_measure_in_this_process(args.child, repeat)), flush=True)
        return 0

    dag_files = sorted(p for p in args.dags_folder.glob("*.py") if not p.name.startswith("_"))
    if not dag_files:
        print(f"no DAG files in {args.dags_folder}")
        return 0

    airflow_home = Path(tempfile.mkdtemp(prefix="airflow-home-bench-"))
    try:
        env = _isolated_env(airflow_home, args.dags_folder)
        header = ["file", "dags", "cold s", "warm min s", "warm median s", f"< {TARGET_SECONDS} s"]
        rows, airflow_imports = [header], []
        for dag_file in dag_files:
            result = _run_child(dag_file, repeat, env)
            if "crash" in result:
                rows.append([dag_file.name, "-", "-", "-", "-", "ERROR"])
                print(f"{dag_file.name}: {result['crash']}", file=sys.stderr)
                continue
            airflow_imports.append(result["airflow_import"])
            cold, warm = result["timings"][0], result["timings"][1:]
            if result["errors"]:
                verdict = "IMPORT ERROR"
            else:
                verdict = "yes" if cold < TARGET_SECONDS else "NO"
            rows.append(
                [
                    dag_file.name,
                    str(len(result["dag_ids"])),
                    f"{cold:.3f}",
                    f"{min(warm):.3f}",
                    f"{statistics.median(warm):.3f}",
                    verdict,
                ]
            )
            for path, error in result["errors"].items():
                print(f"{path}: {error.strip().splitlines()[-1]}", file=sys.stderr)

        print(f"DAG parse time per file, fresh process each, {repeat} parses (1 cold + {repeat - 1} warm)")
        print(f"target: cold parse < {TARGET_SECONDS} s per file\n")
        print(_table(rows))
        if airflow_imports:
            print(
                f"\nnot counted: importing Airflow + DagBag, {statistics.median(airflow_imports):.2f} s "
                "(median), paid once per process before any file is parsed"
            )
    finally:
        shutil.rmtree(airflow_home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # a benchmark reports problems, it does not fail a pipeline
        print(f"benchmark error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(0)
