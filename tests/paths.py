"""Where things are, for tests (a module of its own: every conftest.py is named `conftest`)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
