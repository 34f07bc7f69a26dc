"""A stack applied against moto for the length of a test module (a module of its own: every
conftest.py is named `conftest`)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tools.emulator.cycle import EmulatorCycle, Phases


@contextmanager
def applied(stack_dir: Path, workdir: Path, **options) -> Iterator[EmulatorCycle]:
    """Apply on entry, destroy and stop moto on exit; the phases and their times are printed
    (shown by pytest -rA, and with the error when setup or teardown fails)."""
    lines: list[str] = []
    cycle = EmulatorCycle(stack_dir, workdir, phases=Phases(report=lines.append), **options)
    try:
        cycle.up()
        yield cycle
    finally:
        try:
            cycle.close()
        finally:
            print("\n".join(lines), cycle.phases.table(), f"logs: {cycle.workdir}", sep="\n")
