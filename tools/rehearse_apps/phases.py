"""Printing each phase with its elapsed time, and undoing everything in reverse order."""

from __future__ import annotations

import contextlib
import signal
import sys
import time


class Clock:
    def __init__(self, out=sys.stdout) -> None:
        self.start = time.monotonic()
        self.out = out
        self.durations: dict[str, float] = {}

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def say(self, text: str) -> None:
        print(f"[{self.elapsed():6.1f}s] {text}", file=self.out, flush=True)

    @contextlib.contextmanager
    def phase(self, name: str):
        began = time.monotonic()
        self.say(f"{name} ...")
        try:
            yield
        except BaseException:
            self.say(f"{name}: FAILED after {time.monotonic() - began:.1f}s")
            raise
        self.durations[name] = time.monotonic() - began
        self.say(f"{name}: done in {self.durations[name]:.1f}s")


class Interrupted(KeyboardInterrupt):
    pass


def raise_on_sigterm() -> None:
    """SIGTERM (CI cancelling a job, `kill`) unwinds like Ctrl-C, so cleanup runs."""
    def handler(signum, frame):
        raise Interrupted(f"signal {signum}")
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
