"""The pre-upgrade snapshot and the restore runbook (docs/restore.md), rehearsed with real
Terraform and the real AWS provider against the emulator cycle's moto: ONE phase of the shared
cycle (tests/test_emulator.py and tools/emulator/rehearse.py call `rehearse_snapshot_and_restore`
once, after the infra stack and the apps stack's AWS side are applied).

1. The version does not change: one snapshot exists, and the cycle's own apps re-plans found
   nothing to change (no new snapshot).
2. A new Airflow version (the apps side synthesized with it): the plan replaces exactly the
   snapshot, create before delete; moto's `describe_db_snapshots` then lists the new version's
   snapshot, and not the old. The Airflow release itself cannot run here; that it waits for the
   snapshot is the synthesized dependency (`helm_release` depends on the `aws_db_snapshot`),
   checked by `release_waits_for_the_snapshot`.
3. The restore: infra synthesized with `db_restore_time` plans exactly the restored instance's
   create, the bootstrap Job role's policy update (the new master secret) and the database
   alarms' update (they watch the restored instance, checked in moto after the apply); the created
   instance is left alone (not replaced, not changed); apply; a re-plan is empty. The apps side
   then replaces the snapshot with one of the restored instance; its re-plan is empty.

Where moto 5.2.5 differs from RDS here (moto/rds/models.py; the RDS API Reference):
- DbiResourceId: moto gives every instance the same one; the provider finds a restored instance
  by it. Fixed for the whole cycle by tools/emulator/moto_faithful.py (each instance its own).
- ReadReplicaSourceDBInstanceIdentifier: moto sets it on a restored instance (the provider's
  `replicate_source_db`, a diff on every re-plan); RDS only on read replicas. Also fixed there.
- RestoreDBInstanceToPointInTime: moto copies the source instance as it is now and ignores
  RestoreTime/UseLatestRestorableTime; it accepts a time before the instance existed, where RDS
  refuses any time outside [EarliestRestorableTime, LatestRestorableTime] (InvalidRestoreFault).
  The instance is `available` at once; RDS takes minutes (longer for more data and WAL).
  So the rehearsal proves the Terraform side (what is created, replaced, left alone), never
  which data a restore brings back.
- The master password: moto carries the source's ManageMasterUserPassword into the restore and
  creates a secret; then the provider's ModifyDBInstance (ManageMasterUserPassword, after the
  restore: internal/service/rds/instance.go, resourceInstanceCreate, restore_to_point_in_time
  branch) makes it create a SECOND one, and the first is never deleted. RDS turns Secrets
  Manager management on only at create, modify or restore from S3 ("Password management with
  Amazon RDS and AWS Secrets Manager"; ManageMasterUserPassword of RestoreDBInstanceFromDBSnapshot
  "Applies to RDS for Oracle only"), so a restored instance gets exactly one, at the modify.
  `remove_motos_orphan_master_secrets` deletes moto's extra one (test-side, here only), and the
  phase schedules the deletion of the KMS key moto created with it.
- CreateDBSnapshot: moto's snapshot is `available` at once (RDS: `creating` for minutes, and the
  provider waits), and holds no data.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from tools.emulator.cycle import CompanionStack, EmulatorCycle

SNAPSHOT = "aws_db_snapshot"
# The settings the phase moves to: an Airflow version after the default's, and a restore. Any
# valid tag will do: moto never runs the image.
NEXT_AIRFLOW = {"airflow_image_tag": "3.3.3"}
RESTORED = {"db_restore_time": "latest"}


class RestoreRehearsalFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class RestoreRehearsal:
    seconds: float
    snapshots_before: list[str]  # moto's manual snapshots of the created instance, at the first version
    snapshots_after_upgrade: list[str]
    upgrade_changes: dict[str, list[str]]  # address -> actions, of the apps side's plan for the new version
    restore_changes: dict[str, list[str]]  # of the infra plan with db_restore_time
    switch_changes: dict[str, list[str]]  # of the apps side's plan after the restore
    source_id: str
    restored_id: str
    moto_orphan_secrets: list[str]  # removed: see remove_motos_orphan_master_secrets


def acting(plan: dict) -> dict[str, list[str]]:
    """Every managed resource the plan changes: address -> actions (no-ops left out)."""
    return {c["address"]: c["change"]["actions"] for c in plan.get("resource_changes", [])
            if c["mode"] == "managed" and c["change"]["actions"] != ["no-op"]}


def only_address(stack: dict, rtype: str, where=lambda body: True) -> str:
    found = [f"{rtype}.{name}" for name, body in stack.get("resource", {}).get(rtype, {}).items() if where(body)]
    if len(found) != 1:
        raise RestoreRehearsalFailed(f"expected one {rtype}, found {found}")
    return found[0]


def release_waits_for_the_snapshot(apps: dict) -> None:
    """The Airflow release (helm_release) depends on the pre-upgrade snapshot: Terraform creates
    the snapshot before it upgrades the chart, whose migrate job then runs the new version."""
    snapshot = only_address(apps, SNAPSHOT)
    releases = {name: body for name, body in apps["resource"].get("helm_release", {}).items()
                if body.get("name") == "airflow"}
    (release,) = releases.values()
    if snapshot not in release.get("depends_on", []):
        raise RestoreRehearsalFailed(f"the Airflow release does not wait for {snapshot}: {release.get('depends_on')}")


def manual_snapshots(cycle: EmulatorCycle, instance_id: str) -> list[str]:
    found = cycle.client("rds").describe_db_snapshots(DBInstanceIdentifier=instance_id, SnapshotType="manual")
    return sorted(s["DBSnapshotIdentifier"] for s in found["DBSnapshots"])


def created_before_deleted(apply_output: str, address: str) -> bool:
    """Terraform's own lines: the new snapshot's create completes before the old one is destroyed."""
    created = apply_output.find(f"{address}: Creation complete")
    destroying = re.search(rf"^{re.escape(address)} \(deposed object \w+\): Destroying", apply_output, re.M)
    return created >= 0 and destroying is not None and created < destroying.start()


def remove_motos_orphan_master_secrets(cycle: EmulatorCycle) -> list[str]:
    """The `rds!db-...` secrets no DB instance names as its master secret (moto's extra one after a
    restore, see the module's docstring): deleted, so the cycle's leftover check stays exact."""
    rds, sm = cycle.client("rds"), cycle.client("secretsmanager")
    in_use = {d["MasterUserSecret"]["SecretArn"] for d in rds.describe_db_instances()["DBInstances"]
              if d.get("MasterUserSecret")}
    orphans = [s["ARN"] for s in sm.list_secrets()["SecretList"]
               if s["Name"].startswith("rds!db-") and s["ARN"] not in in_use and not s.get("DeletedDate")]
    for arn in orphans:
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    return orphans


def expect(what: str, found, wanted) -> None:
    if found != wanted:
        raise RestoreRehearsalFailed(f"{what}:\n  found  {found}\n  wanted {wanted}")


def synthesized_variants(outdir: Path, **base: str) -> dict[str, dict]:
    """For `tools/emulator/rehearse.py`: the app synthesized with NEXT_AIRFLOW and with RESTORED
    over the current settings and `base`, as `rehearse_snapshot_and_restore`'s keyword arguments (the tests
    take them from their session's syntheses instead)."""
    from airflow_platform.app import synthesize
    from airflow_platform.settings import load_settings
    from airflow_platform.setting_sources import ENV_PREFIX

    def stacks(name: str, overrides: dict[str, str]) -> Path:
        (outdir / name).mkdir(parents=True, exist_ok=True)
        environ = os.environ | {ENV_PREFIX + k.upper(): v for k, v in (base | overrides).items()}
        return synthesize(load_settings(environ=environ), outdir / name) / "stacks"

    upgraded, restored = stacks("next-airflow", NEXT_AIRFLOW), stacks("restored", RESTORED)
    read = lambda folder, stack: json.loads((folder / stack / "cdk.tf.json").read_text())  # noqa: E731
    return {"next_airflow_apps": read(upgraded, "apps"), "restored_infra": read(restored, "infra"),
            "restored_apps": read(restored, "apps")}


def rehearse_snapshot_and_restore(cycle: EmulatorCycle, apps: CompanionStack, *, next_airflow_apps: dict,
                                  restored_infra: dict, restored_apps: dict) -> RestoreRehearsal:
    """The phase (see the module's docstring). `apps` is the applied AWS side of the apps stack;
    the three stacks are the synthesized JSON with a new Airflow version, and with `db_restore_time`."""
    from tools.emulator.apps_aws_side import aws_side

    started = time.monotonic()
    side = lambda stack: aws_side(stack, remote_states={"infra": cycle.state_config()})  # noqa: E731
    for stack in (next_airflow_apps, restored_apps):
        release_waits_for_the_snapshot(stack)
    source_id = cycle.outputs()["db_instance_id"]

    # 1. Same version, same instance: the cycle's apps re-plans (after its apply, and after the
    # rotation's) found nothing to change, so no new snapshot; one exists, of this version.
    before = manual_snapshots(cycle, source_id)
    expect("snapshots of the created instance after the first deploy", len(before), 1)

    # 2. A new Airflow version: the snapshot is replaced, the new one first.
    apps.reconfigure(side(next_airflow_apps))
    snapshot = only_address(apps.adapted, SNAPSHOT)
    upgrade = acting(apps.planned("plan-new-airflow"))
    expect("the apps side's plan for a new Airflow version", upgrade, {snapshot: ["create", "delete"]})
    apps.apply("apply-new-airflow")
    if not created_before_deleted(apps.outputs["apps-apply-new-airflow"], snapshot):
        raise RestoreRehearsalFailed("the previous snapshot was deleted before the new one was complete")
    after_upgrade = manual_snapshots(cycle, source_id)
    expect("snapshots after the upgrade", len(after_upgrade), 1)
    if after_upgrade == before:
        raise RestoreRehearsalFailed(f"no new snapshot for the new Airflow version: {after_upgrade}")

    # 3. The restore: one setting (db_restore_time), one deploy (infra, then apps).
    rds = cycle.client("rds")
    source_before = rds.describe_db_instances(DBInstanceIdentifier=source_id)["DBInstances"][0]
    restored = only_address(restored_infra, "aws_db_instance",
                            lambda body: "restore_to_point_in_time" in body)
    bootstrap_policy = only_address(restored_infra, "aws_iam_role_policy",
                                    lambda body: "db-bootstrap" in str(body.get("name", "")))
    # The database alarms watch the instance the platform uses: they follow it, updated in place.
    db_alarms = [f"aws_cloudwatch_metric_alarm.{name}" for name, body
                 in restored_infra["resource"].get("aws_cloudwatch_metric_alarm", {}).items()
                 if "DBInstanceIdentifier" in body.get("dimensions", {})]
    for alarm in db_alarms:
        watched = restored_infra["resource"]["aws_cloudwatch_metric_alarm"][alarm.split(".")[1]]["dimensions"]
        expect(f"the instance {alarm} watches", watched["DBInstanceIdentifier"], f"${{{restored}.identifier}}")
    restore = acting(cycle.plan_change(restored_infra, log="plan-restore"))
    expect("the infra plan of the restore", restore,
           {restored: ["create"], bootstrap_policy: ["update"]} | {alarm: ["update"] for alarm in db_alarms})
    kms = cycle.client("kms")
    keys_before = {k["KeyId"] for k in kms.list_keys()["Keys"]}
    cycle.apply_change(log="apply-restore")
    orphans = remove_motos_orphan_master_secrets(cycle)
    # The restore creates no aws_kms_key: a new key is moto's own, for its orphan master secret
    # (the cycle's leftover check counted it after destroy); scheduled for deletion like the stack's.
    for key in {k["KeyId"] for k in kms.list_keys()["Keys"]} - keys_before:
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        cycle.keys_outside_terraform.append(key)
    changes = cycle.replan(log="re-plan-after-restore")
    expect("the infra re-plan after the restore", changes, None)

    outputs = cycle.outputs()
    restored_id = outputs["db_instance_id"]
    source_after = rds.describe_db_instances(DBInstanceIdentifier=source_id)["DBInstances"][0]
    new = rds.describe_db_instances(DBInstanceIdentifier=restored_id)["DBInstances"][0]
    expect("the created instance after the switch (same resource id, still available)",
           (source_after["DbiResourceId"], source_after["DBInstanceStatus"]),
           (source_before["DbiResourceId"], "available"))
    if restored_id == source_id or outputs["db_address"] != new["Endpoint"]["Address"]:
        raise RestoreRehearsalFailed(f"the platform does not point at the restored instance: {outputs}")
    alarms = cycle.client("cloudwatch").describe_alarms()["MetricAlarms"]
    expect("the instances the database alarms watch, in moto",
           sorted({d["Value"] for a in alarms for d in a["Dimensions"] if d["Name"] == "DBInstanceIdentifier"}),
           [restored_id] if db_alarms else [])
    expect("the restored instance's own master secret, which the bootstrap Job reads",
           (outputs["db_secret_arn"], new["MasterUserSecret"]["SecretArn"] != source_after["MasterUserSecret"]["SecretArn"]),
           (new["MasterUserSecret"]["SecretArn"], True))
    expect("the restored instance's network and encryption",
           (new["DBSubnetGroup"]["DBSubnetGroupName"], [g["VpcSecurityGroupId"] for g in new["VpcSecurityGroups"]],
            new["StorageEncrypted"], new["PubliclyAccessible"]),
           (source_after["DBSubnetGroup"]["DBSubnetGroupName"],
            [g["VpcSecurityGroupId"] for g in source_after["VpcSecurityGroups"]], True, False))

    apps.reconfigure(side(restored_apps))
    switch = acting(apps.planned("plan-after-restore"))
    expect("the apps side's plan after the restore", switch, {snapshot: ["create", "delete"]})
    apps.apply("apply-after-restore")
    expect("the apps side's re-plan after the restore", apps.replan(log="re-plan-after-restore"), None)
    expect("snapshots of the restored instance", len(manual_snapshots(cycle, restored_id)), 1)
    return RestoreRehearsal(time.monotonic() - started, before, after_upgrade, upgrade, restore, switch,
                            source_id, restored_id, orphans)
