"""`make rehearse-apps`: the apps stack run the way the chart runs it, offline. See __init__.py."""

from __future__ import annotations

import sys

from tools.rehearse_apps.run import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
