#!/usr/bin/env python
"""Rotates the password of Airflow's own PostgreSQL role: `make rotate-db-password`.

1. Draws a new password with Secrets Manager's GetRandomPassword (32 alphanumerics) and
   stores it as the new AWSCURRENT version of `<prefix>/airflow/db-password`. The value
   goes from one AWS call to the next: it is never printed, logged or written to disk.
2. Deploys the apps stack alone (DEPLOY below). The new version id replaces the role
   bootstrap Job, which sets the new password on the role (as master, over TLS); only once
   it succeeded are the Kubernetes Secrets built from the password rewritten (write-only),
   and then the pods' annotation changes, so Helm restarts PgBouncer and every Airflow
   component with the new value. If the Job fails, the apply stops there: the database,
   the Secrets and the pods all keep the old password, and the next deploy completes the
   rotation (the new version stays current in Secrets Manager).

The RDS master password is untouched (RDS rotates it on its own; Airflow never uses it).
Needs the deploy's AWS credentials and the same AIRFLOW_PLATFORM_* settings as the deploy.

Usage: python scripts/rotate_db_password.py [--no-deploy]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_platform.generated_secrets import GENERATED, secret_name  # noqa: E402

# The apps stack only. cdktf refuses `deploy apps` alone ("The following dependencies are not
# included in the stacks to run: infra"), so either infra is named too or the check is waived.
# Naming infra would also apply any infra change pending in this checkout (a node group, the
# database) as a side effect of a password rotation; with the flag, apps reads infra's outputs
# from its state as last deployed, and infra is neither planned nor applied.
DEPLOY = ["cdktf", "deploy", "apps", "--ignore-missing-stack-dependencies", "--auto-approve"]
LENGTH = next(g.length for g in GENERATED if g.name == "db-password")


def rotate(secretsmanager, prefix: str) -> str:
    """Stores a new current version; returns its version id (never the value)."""
    name = secret_name(prefix, "db-password")
    secretsmanager.describe_secret(SecretId=name)  # a clear error before anything changes
    value = secretsmanager.get_random_password(PasswordLength=LENGTH, ExcludePunctuation=True)["RandomPassword"]
    return secretsmanager.put_secret_value(SecretId=name, SecretString=value)["VersionId"]


def main(argv: list[str] | None = None, *, client=None, run: Callable[[list[str]], int] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-deploy", action="store_true",
                        help="only store the new version; the next `make deploy` applies it")
    args = parser.parse_args(argv)
    from airflow_platform.settings import load_settings

    settings = load_settings()
    if client is None:
        import boto3

        client = boto3.client("secretsmanager", region_name=settings.region)
    version = rotate(client, settings.prefix)
    print(f"new version {version} of {secret_name(settings.prefix, 'db-password')} is current", flush=True)
    if args.no_deploy:
        print(f"not deployed: `make deploy` (or `{' '.join(DEPLOY)}`) applies it")
        return 0
    print(f"$ {' '.join(DEPLOY)}  (re-runs the role bootstrap Job, then rewrites the Secrets and restarts "
          "PgBouncer and Airflow)", flush=True)
    return (run or (lambda cmd: subprocess.run(cmd, check=False).returncode))(DEPLOY)


if __name__ == "__main__":
    sys.exit(main())
