"""Rehearse a deployment against moto on 127.0.0.1: no AWS account needed.

    make rehearse        # or: .venv/bin/python -m tools.emulator.rehearse [--keep] [--record-actions]

Synthesizes the app with the current settings (cdktf.json, AIRFLOW_PLATFORM_* variables),
and again with `eks_version` one minor back; starts moto, and runs real Terraform with the
real AWS provider on the infra stack (adapted by tools/emulator/adapt.py) at that previous
minor: init, validate, plan, apply, a second plan that must find nothing to change; the EKS
upgrade plan at the current `eks_version` (tools/emulator/eks_upgrade.py: in-place updates of
the cluster, then the node group, nothing else; not applied, moto cannot); then the apps
stack's AWS side (tools/emulator/apps_aws_side.py:
its aws data sources and ephemeral reads) against the applied infra: plan, apply, re-plan;
the rotation runbook's `rotate()`, a re-plan of infra, plan and apply of apps; a new Airflow
version's pre-upgrade snapshot and the restore runbook (tools/emulator/db_restore_rehearsal.py); destroy of
apps, then of infra, and a check that nothing is left. `--record-actions` writes what every
phase called into security/ci_actions.yaml (the same phases as tests/test_emulator.py). Each phase is
printed with its elapsed time as it goes; at the end, the timings (the benchmark) and what
was created. It always cleans up: destroy, stop moto, remove its temporary folder, on
success, failure, Ctrl-C or SIGTERM (a second Ctrl-C skips the destroy: moto keeps
everything in memory, and it is stopped anyway). `--keep` keeps the folder (Terraform
logs per phase, moto's log, the adapted stack) for debugging.

Exit status: 0 when the whole cycle passed, 1 when a phase or a check failed, 2 on bad
settings, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from airflow_platform.state_location import state_key
from airflow_platform.versions import previous_eks_version
from tools.emulator.api_calls import ACTIONS_RECORD, NOT_EMULATED, write_record
from tools.emulator.apps_aws_side import aws_side
from tools.emulator.cycle import STACK_FILE, CompanionStack, EmulatorCycle, Phases, counts_table
from tools.emulator.eks_upgrade import EksUpgradeNotInPlace, check_eks_upgrade
from tools.emulator.db_restore_rehearsal import RestoreRehearsalFailed, rehearse_snapshot_and_restore, synthesized_variants
from tools.emulator.moto_server import MotoError
from tools.emulator.not_emulated import not_emulated_actions
from tools.terraform_cli import TerraformError

INTERRUPTED = 130


class RehearsalFailed(RuntimeError):
    pass


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def synthesize(outdir: Path, **overrides: str) -> Path:
    """The app with the current settings (and `overrides`, as AIRFLOW_PLATFORM_* variables),
    synthesized to `outdir`; returns the infra stack folder (the apps stack's is its sibling)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
    from airflow_platform.app import synthesize as synthesize_app  # slow: imports the AWS provider package
    from airflow_platform.settings import load_settings

    environ = dict(os.environ, **{f"AIRFLOW_PLATFORM_{k.upper()}": v for k, v in overrides.items()})
    return synthesize_app(load_settings(environ=environ), outdir) / "stacks" / "infra"


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.emulator.rehearse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, state) afterwards")
    parser.add_argument("--record-actions", action="store_true",
                        help="record the AWS actions Terraform calls (TF_LOG=debug) into security/ci_actions.yaml")
    args = parser.parse_args(argv)

    from airflow_platform.settings import SettingsError, load_settings

    try:  # bad settings: say so before anything starts
        upgrade_from = previous_eks_version(load_settings().eks_version)  # where the EKS upgrade starts
    except (SettingsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    started = time.monotonic()

    def say(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {line}", flush=True)

    # SIGTERM cleans up like Ctrl-C. And Ctrl-C must raise KeyboardInterrupt even when this
    # process was started with SIGINT ignored (a background job of a non-interactive shell).
    previous = {sig: signal.signal(sig, handler) for sig, handler in (
        (signal.SIGTERM, _interrupt), (signal.SIGINT, signal.default_int_handler))}
    workdir = Path(tempfile.mkdtemp(prefix="airflow-rehearsal-"))
    phases = Phases(report=say)
    cycle: EmulatorCycle | None = None
    status = 1
    try:
        settings = load_settings()
        with phases("synthesize"):
            target_dir = synthesize(workdir / "cdktf.out")
            # Applied one minor back, so that the current version's plan is an EKS upgrade.
            stack_dir = synthesize(workdir / "cdktf.out-upgrade-from", eks_version=upgrade_from)
            # A new Airflow version; a restore: each at the applied minor, so it is the only change.
            variants = synthesized_variants(workdir / "variants", eks_version=upgrade_from)
        cycle = EmulatorCycle(stack_dir, workdir / "cycle", phases=phases, record_api_calls=args.record_actions,
                              state_key=state_key(settings, "infra"))
        cycle.start()
        say(f"moto at {cycle.moto.endpoint}; adapted for it: {', '.join(a.name for a in cycle.adaptations)}")
        cycle.init()
        cycle.validate()
        cycle.plan()
        cycle.apply()
        changes = cycle.replan()
        if changes is not None:
            raise RehearsalFailed(f"the plan after apply is not empty:\n{tail(changes, 80)}")
        say("the second plan found no changes")
        check_eks_upgrade(cycle, json.loads((target_dir / STACK_FILE).read_text()))
        say(f"the EKS upgrade to {settings.eks_version} plans in-place updates of the cluster, then the node group")
        apps = CompanionStack(cycle, "apps", aws_side(json.loads((stack_dir.parent / "apps" / STACK_FILE).read_text()),
                                                      remote_states={"infra": cycle.state_config()}),
                             state_key=state_key(settings, "apps"))
        apps.start()
        apps.plan()
        apps.apply()
        if apps.replan() is not None:
            raise RehearsalFailed("the apps stack's AWS side plans changes after its apply")
        cycle.rotate_db_password(settings.prefix)
        changes = cycle.replan(log="re-plan-after-rotation")
        if changes is not None:
            raise RehearsalFailed(f"the plan after a rotation is not empty:\n{tail(changes, 80)}")
        apps.plan(log="plan-after-rotation")
        apps.apply(log="apply-after-rotation")
        done = rehearse_snapshot_and_restore(cycle, apps, **variants)
        say(f"snapshot and restore rehearsed: the platform switched to {done.restored_id}")
        apps.destroy()
        cycle.destroy()
        left = cycle.leftovers()
        if left:
            raise RehearsalFailed("left after destroy:\n  " + "\n  ".join(left))
        if args.record_actions:
            write_record(ACTIONS_RECORD, cycle.recorded_lists() | {NOT_EMULATED: not_emulated_actions()})
            say(f"{len(cycle.recorded_actions())} AWS actions recorded in "
                f"{ACTIONS_RECORD.relative_to(ACTIONS_RECORD.parents[1])}")
        status = 0
    except KeyboardInterrupt:
        say("interrupted: cleaning up (Ctrl-C again to skip the destroy)")
        status = INTERRUPTED
    except (TerraformError, MotoError, RehearsalFailed, EksUpgradeNotInPlace, RestoreRehearsalFailed) as err:
        say(f"FAILED: {tail(str(err))}")
        if cycle is not None and cycle.moto.log_path.exists():
            say(f"moto's log ends with:\n{cycle.moto.log_tail(10)}")
    finally:
        status, left_in_state = cleanup(cycle, workdir, keep=args.keep, say=say, status=status)
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    print()
    print(phases.table())
    print()
    if cycle is not None:
        counts = cycle.counts_before_destroy if cycle.destroyed else left_in_state
        print(f"created ({'then destroyed' if cycle.destroyed else 'NOT destroyed by Terraform; gone with moto'}):")
        print(counts_table(counts))
    print()
    print({0: "rehearsal passed", INTERRUPTED: "rehearsal interrupted"}.get(status, "rehearsal FAILED"))
    return status


def cleanup(cycle: EmulatorCycle | None, workdir: Path, *, keep: bool, say, status: int) -> tuple[int, Counter]:
    """Destroy if needed, stop moto, remove the folder. Returns the (possibly worse) status and
    what the state still held (read before the folder goes)."""
    left_in_state: Counter = Counter()
    try:
        if cycle is not None:
            cycle.close()
    except KeyboardInterrupt:
        say("interrupted again: destroy skipped; moto is stopped and what it held is gone")
        status = INTERRUPTED
    except (TerraformError, MotoError) as err:
        say(f"cleanup: destroy FAILED (moto is stopped, so nothing outlives it): {tail(str(err), 20)}")
        status = status or 1
    finally:
        if cycle is not None:
            cycle.moto.stop()  # idempotent; covers an interrupt inside close()
            left_in_state = cycle.resource_counts()
        if keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return status, left_in_state


if __name__ == "__main__":
    sys.exit(main())
