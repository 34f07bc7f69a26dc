#!/usr/bin/env python
"""cdktf's app entry point: validate the settings, then synthesize `infra`, `apps` and `bootstrap`."""

import sys

from airflow_platform.settings import SettingsError, deploy_warnings, load_settings


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as err:
        # Before any construct exists: nothing is written to cdktf.out.
        print(f"error: {err}", file=sys.stderr)
        return 2
    for warning in deploy_warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    from airflow_platform.app import synthesize  # the provider imports are slow: only after validation

    synthesize(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
