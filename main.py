#!/usr/bin/env python
"""cdktf's app entry point: the settings pipeline, then synthesize `infra`, `apps` and `bootstrap`.

    load_settings()  merge (profile, cdktf.json, environment), each field, the rules between fields
    preflight()      the capacity check, then the deploy warnings
"""

import sys

from airflow_platform.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings()
        # Only after the fields are valid: the capacity check reads the charts' requests from
        # their constructs, whose provider imports start jsii's Node process (about 2 s).
        from airflow_platform.preflight import preflight

        warnings = preflight(settings)
    except SettingsError as err:
        # Before any construct exists: nothing is written to cdktf.out.
        print(f"error: {err}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    from airflow_platform.app import synthesize  # the provider imports are slow: only after validation

    synthesize(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
