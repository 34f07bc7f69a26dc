"""The restore runbook's switch (docs/restore.md): after `db_restore_time`, the infra stack's
outputs name the restored instance, and the apps stack must carry the new address to the one
component that connects to the database, PgBouncer, and to the role-bootstrap Job.

Both read the address from an output of the infra stack (cdktf's cross-stack output of the
active instance's `address`, through `terraform_remote_state`): what changes on a deploy is
decided by which attributes refer to it. A Kubernetes Secret written with `data_wo` is rewritten only
when `data_wo_revision` changes (kubernetes provider 2.38.0, `data_wo` is write-only: never
compared), and PgBouncer reads its config only at start. Before this check, the revision of
`airflow-pgbouncer-config` followed the password's version alone: a switch left PgBouncer on
the old instance while the deploy succeeded.
"""

from __future__ import annotations

import re

import yaml

# cdktf names a cross-stack output after the attribute it passes: `aws_db_instance<construct path>address`.
DB_ADDRESS = re.compile(r"outputs\.cross-stack-output-aws_db_instance\w*address\b")


def _address_locals(apps: dict) -> set[str]:
    """The locals whose value holds the infra stack's db_address output."""
    return {f"local.{name}" for name, value in apps.get("locals", {}).items() if DB_ADDRESS.search(str(value))}


def _by_name(apps: dict, rtype: str, name: str) -> dict:
    (found,) = [body for body in apps["resource"][rtype].values() if body.get("metadata", {}).get("name") == name
                or body.get("name") == name]
    return found


def follows_the_address(text: str, apps: dict) -> bool:
    return bool(DB_ADDRESS.search(text)) or any(ref in text for ref in _address_locals(apps))


def test_pgbouncers_config_is_rewritten_and_pgbouncer_restarted_for_a_new_address(synth):
    apps = synth.apps
    assert _address_locals(apps), "no local holds the database address"
    secret = _by_name(apps, "kubernetes_secret_v1", "airflow-pgbouncer-config")
    assert follows_the_address(str(secret["data_wo_revision"]), apps), secret["data_wo_revision"]
    release = _by_name(apps, "helm_release", "airflow")
    values = yaml.safe_load(release["values"][1])
    annotation = values["pgbouncer"]["podAnnotations"].get("airflow-platform/db-backend", "")
    assert follows_the_address(annotation, apps), values["pgbouncer"]["podAnnotations"]


def test_the_role_bootstrap_job_runs_again_on_the_new_instance(synth):
    """Its pod template (immutable: a change replaces the Job, which runs again) holds the address
    and the master secret: on the restored instance it sets the Airflow role's password from
    Secrets Manager again, whatever older password the restored data holds."""
    apps = synth.apps
    (job,) = [j for j in apps["resource"]["kubernetes_job_v1"].values()
              if j["metadata"]["name"] == "airflow-db-role-bootstrap"]
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["container"][0]["env"]}
    assert follows_the_address(env["DB_HOST"], apps)
    assert "aws_db_instance" in env["MASTER_SECRET_ARN"] and "master_user_secret" in env["MASTER_SECRET_ARN"]


def test_after_the_restore_setting_the_apps_stack_reads_the_restored_instance(synth, synth_restored):
    refs = {name: set(DB_ADDRESS.findall(str(s.apps))) for name, s in (("dev", synth), ("restored", synth_restored))}
    assert len(refs["dev"]) == len(refs["restored"]) == 1, refs
    assert "restored" in next(iter(refs["restored"])) and "restored" not in next(iter(refs["dev"]))
