"""One rehearsal cycle of the infra stack against moto: the phases, shared by the emulator
test (`tests/test_emulator.py`) and the rehearsal command (`tools/emulator/rehearse.py`).

    cycle = EmulatorCycle(synthesized_stack_dir, workdir, phases=Phases(report=print))
    try:
        cycle.up()                      # moto, init, validate, plan, apply
        assert cycle.replan() is None   # a second plan finds nothing to change
        ...                             # look at moto: cycle.client("ec2"), cycle.state()
        cycle.destroy()
        assert cycle.leftovers() == []
    finally:
        cycle.close()                   # destroys if still needed, then stops moto

The synthesized folder is copied to `<workdir>/<stack>` and its `cdk.tf.json` replaced by the
adapted one (tools/emulator/adapt.py); state lives in moto's own S3 (`STATE_BUCKET`, versioned
like the real one) at `state_key`, through Terraform's S3 backend, as in production. Every phase is timed
(`phases.timings`) and its Terraform output kept in `<workdir>/logs/<phase>.log`; moto's
own log is `<workdir>/moto.log`.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from tools.emulator.adapt import (CREDENTIAL, STATE_BUCKET, Adaptation, adapt_for_emulator, emulator_state_config,
                                  point_provider_at, use_emulator_state)
from tools.emulator.api_calls import PhaseCalls, boto3_calls, iam_actions, record_lists
from tools.emulator.moto_server import MotoServer
from tools.terraform_cli import TerraformError, terraform, terraform_env

STACK_FILE = "cdk.tf.json"
ROTATION_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "rotate_db_password.py"
PLAN_FILE = "emulator.tfplan"
# `terraform plan -detailed-exitcode`: 0 nothing to do, 1 error, 2 changes.
NO_CHANGES, CHANGES = 0, 2


# Emulator races under load that a second apply settles (docs/emulator.md).
MOTO_RACES = ("revoking default IPv4 egress rule", "RouteAlreadyExists")
# The route a create that moto answered twice left behind, outside the state (terraform-provider-aws's message).
ORPHAN_ROUTE = re.compile(r"Route Table \((rtb-[0-9a-f]+)\) with destination \(([0-9a-f.:/]+)\)")
# Terraform's line when it has opened an ephemeral resource (its UI hook, PostEphemeralOp).
OPENED = re.compile(r"^(ephemeral\.[\w-]+\.[\w-]+): Opening complete", re.M)


@dataclass
class Phase:
    name: str
    seconds: float
    ok: bool


@dataclass
class Phases:
    """Times named phases, reporting each one's start and end as it goes."""

    report: Callable[[str], None] = lambda line: None
    timings: list[Phase] = field(default_factory=list)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.report(f"{name} ...")
        start = time.monotonic()
        ok = False
        try:
            yield
            ok = True
        finally:
            seconds = time.monotonic() - start
            self.timings.append(Phase(name, seconds, ok))
            self.report(f"{name} {'done' if ok else 'FAILED'} in {seconds:.1f} s")

    def table(self) -> str:
        """The benchmark: one line per phase, and the total."""
        if not self.timings:
            return "(no phase ran)"
        width = max(len(p.name) for p in self.timings + [Phase("total", 0, True)])
        lines = [f"{'phase':<{width}}  seconds", f"{'-' * width}  -------"]
        lines += [f"{p.name:<{width}}  {p.seconds:7.1f}{'' if p.ok else '  FAILED'}" for p in self.timings]
        lines.append(f"{'total':<{width}}  {sum(p.seconds for p in self.timings):7.1f}")
        return "\n".join(lines)


class EmulatorCycle:
    """Apply and destroy one synthesized stack folder against a moto server of its own."""

    def __init__(self, stack_dir: Path, workdir: Path, *, phases: Phases | None = None,
                 record_api_calls: bool = False, state_key: str | None = None) -> None:
        self.source_dir = Path(stack_dir)
        self.workdir = Path(workdir)
        self.stack_dir = self.workdir / self.source_dir.name
        # TF_LOG=debug per phase (`<workdir>/logs/<phase>.debug.log`): the API calls the provider made.
        self.record_api_calls = record_api_calls
        self.logs_dir = self.workdir / "logs"
        self.phases = phases or Phases()
        self.moto = MotoServer(self.workdir / "moto.log")
        self.stack = json.loads((self.source_dir / STACK_FILE).read_text())
        self.calls: list[PhaseCalls] = []  # with `record_api_calls`: what each phase called, in order
        # KMS keys moto made on its own for calls outside Terraform (scheduled for deletion at once).
        self.keys_outside_terraform: list[str] = []
        self.region = self.stack["provider"]["aws"][0]["region"]
        # The key production uses (given, or the synthesized S3 backend's), else one of the emulator's.
        synthesized_key = self.stack.get("terraform", {}).get("backend", {}).get("s3", {}).get("key")
        self.state_key = state_key or synthesized_key or f"emulator/{self.source_dir.name}.tfstate"
        self.adapted: dict = {}  # the stack as applied (written by start())
        self.adaptations: list[Adaptation] = []
        self.may_hold_resources = False  # from the start of apply on: destroy before moto stops
        self.destroyed = False
        self.counts_before_destroy: Counter = Counter()  # what was created, as the state said before destroy
        self._state_at_stop = ""
        self._state_current = False  # right after a re-plan that refreshed everything and found no change
        no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
        self._env = terraform_env({"NO_PROXY": no_proxy, "no_proxy": no_proxy, "AWS_EC2_METADATA_DISABLED": "true"})

    @property
    def timings(self) -> list[Phase]:
        return self.phases.timings

    # --- phases -------------------------------------------------------------------------------

    def start(self) -> None:
        """Starts moto; copies the synthesized folder and writes the adapted stack into it."""
        with self.phases("start moto"):
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.logs_dir.mkdir(exist_ok=True)
            shutil.copytree(self.source_dir, self.stack_dir,
                            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfplan"))
            self.moto.start()
            s3 = self.client("s3")
            s3.create_bucket(Bucket=STATE_BUCKET)
            s3.put_bucket_versioning(Bucket=STATE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
            self.adapted, self.adaptations = adapt_for_emulator(self.stack, endpoint=self.moto.endpoint,
                                                                state_key=self.state_key)
            (self.stack_dir / STACK_FILE).write_text(json.dumps(self.adapted, indent=2))

    def init(self) -> None:
        with self.phases("init"):
            self._terraform("init", "-input=false", log="init")

    def validate(self) -> None:
        with self.phases("validate"):
            report = json.loads(self._terraform("validate", "-json", log="validate").stdout)
            if not report.get("valid") or report.get("warning_count"):
                raise TerraformError(f"terraform validate:\n{json.dumps(report.get('diagnostics'), indent=2)}")

    def plan(self) -> None:
        with self.phases("plan"):
            self._terraform("plan", "-input=false", f"-out={PLAN_FILE}", log="plan")

    def apply(self) -> None:
        with self.phases("apply"):
            self.may_hold_resources = True
            self._state_current = False
            try:
                self._terraform("apply", "-input=false", "-auto-approve", PLAN_FILE, log="apply")
            except TerraformError as err:
                if not any(race in str(err) for race in MOTO_RACES):
                    raise
                # Seen once each on a loaded machine: a request the SDK retried after moto had already
                # carried it out. RevokeSecurityGroupEgress of a new group's default rule then answers
                # NotFound (the group is tainted, and replaced by the next apply); CreateRoute answers
                # RouteAlreadyExists, leaving a route outside the state, removed here first. Apply
                # again; anything else fails at once.
                for route_table, destination in ORPHAN_ROUTE.findall(str(err)) if "RouteAlreadyExists" in str(err) else ():
                    self.client("ec2").delete_route(RouteTableId=route_table, DestinationCidrBlock=destination)
                self._terraform("apply", "-input=false", "-auto-approve", log="apply-again")

    def replan(self, log: str = "re-plan") -> str | None:
        """A second, refreshing plan: None when it finds nothing to change, else its output."""
        with self.phases(log):
            changes = planned_changes(self._terraform("plan", "-input=false", "-detailed-exitcode", log=log,
                                                      check=False))
        self._state_current = changes is None
        return changes

    def plan_of(self, stack: dict, *, log: str) -> dict:
        """The plan (`terraform show -json`) of another synthesized `stack`, adapted like the applied
        one, against this cycle's state; nothing is applied. The applied configuration is put back
        afterwards, so destroy and close act on what was applied."""
        adapted, _ = adapt_for_emulator(stack, endpoint=self.moto.endpoint, state_key=self.state_key)
        stack_file = self.stack_dir / STACK_FILE
        plan_file = f"{log}.tfplan"
        with self.phases(log):
            try:
                stack_file.write_text(json.dumps(adapted, indent=2))
                self._terraform("plan", "-input=false", f"-out={plan_file}", log=log)
                return json.loads(self._terraform("show", "-json", plan_file, log=f"{log}-show").stdout)
            finally:
                stack_file.write_text(json.dumps(self.adapted, indent=2))
                (self.stack_dir / plan_file).unlink(missing_ok=True)

    def plan_change(self, stack: dict, *, log: str) -> dict:
        """Another synthesized `stack` (new settings), adapted like the applied one, planned against
        this state into a plan file that `apply_change` applies; from now on it is the configuration
        destroy and close act on. Returns the plan (`terraform show -json`)."""
        self.stack = stack
        self.adapted, self.adaptations = adapt_for_emulator(stack, endpoint=self.moto.endpoint,
                                                            state_key=self.state_key)
        (self.stack_dir / STACK_FILE).write_text(json.dumps(self.adapted, indent=2))
        self._state_current = False
        with self.phases(log):
            self._terraform("plan", "-input=false", f"-out={PLAN_FILE}", log=log)
            return json.loads(self._terraform("show", "-json", PLAN_FILE, log=f"{log}-show").stdout)

    def apply_change(self, *, log: str) -> None:
        """Applies the plan `plan_change` made."""
        with self.phases(log):
            self._terraform("apply", "-input=false", "-auto-approve", PLAN_FILE, log=log)

    def plan_elsewhere(self, stack: dict, *, state_key: str, log: str) -> dict:
        """The plan (`terraform show -json`) of another synthesized `stack` keeping ITS state at
        `state_key` of the same bucket (another environment sharing it), in a folder of its own
        (`<workdir>/<log>`); nothing is applied and this cycle's folder is untouched. Its AWS calls
        are not recorded: they are not part of this stack's cycle."""
        adapted, _ = adapt_for_emulator(stack, endpoint=self.moto.endpoint, state_key=state_key)
        folder = self.workdir / log
        folder.mkdir(exist_ok=True)
        (folder / STACK_FILE).write_text(json.dumps(adapted, indent=2))
        with self.phases(log):
            terraform(folder, "init", "-input=false", env=self._env, log_path=self.logs_dir / f"{log}-init.log")
            terraform(folder, "plan", "-input=false", f"-out={PLAN_FILE}", env=self._env,
                      log_path=self.logs_dir / f"{log}.log")
            try:
                return json.loads(terraform(folder, "show", "-json", PLAN_FILE, env=self._env,
                                            log_path=self.logs_dir / f"{log}-show.log").stdout)
            finally:
                (folder / PLAN_FILE).unlink(missing_ok=True)

    def destroy(self) -> None:
        """`terraform destroy`. Skips its refresh (about 10 s) when a re-plan has just refreshed
        the whole state and found nothing to change; refreshes otherwise (after a failure), and
        always when recording: CI's destroy refreshes, and what the provider deletes depends on
        the refreshed state (after a rotation, the Terraform-owned secret version carries
        AWSPREVIOUS, which its delete removes with UpdateSecretVersionStage)."""
        refresh = "-refresh=false" if self._state_current and not self.record_api_calls else "-refresh=true"
        self.counts_before_destroy = self.resource_counts()
        with self.phases("destroy"):
            self._terraform("destroy", "-input=false", "-auto-approve", refresh, log="destroy")
            self.destroyed = True

    def up(self) -> None:
        """Everything before the checks: moto, init, validate, plan, apply."""
        self.start()
        self.init()
        self.validate()
        self.plan()
        self.apply()

    def close(self) -> None:
        """Destroys what may still exist (unless destroyed already), then stops moto, whatever happens."""
        try:
            if self.may_hold_resources and not self.destroyed and self.moto.running:
                self.destroy()
        finally:
            try:
                self._state_at_stop = self.state_text()  # the state goes with moto: what it said last
            except Exception:  # noqa: BLE001 - a moto that no longer answers must still be stopped
                pass
            finally:
                self.moto.stop()

    # --- looking at the result ----------------------------------------------------------------

    def state_text(self, key: str | None = None) -> str:
        """The state object as Terraform's S3 backend wrote it ("" before the first write); once moto
        has stopped, what it was then."""
        if not self.moto.running:
            return self._state_at_stop if key is None else ""
        s3 = self.client("s3")
        try:
            return s3.get_object(Bucket=STATE_BUCKET, Key=key or self.state_key)["Body"].read().decode()
        except s3.exceptions.NoSuchKey:
            return ""

    def state(self) -> dict:
        text = self.state_text()
        return json.loads(text) if text else {}

    def state_config(self) -> dict:
        """The S3 backend settings of this cycle's state: what a `terraform_remote_state` of
        another stack reads it with (moto must be running)."""
        return emulator_state_config(self.region, self.moto.endpoint, self.state_key)

    def rotate_db_password(self, prefix: str) -> str:
        """The rotation runbook's `rotate()` (scripts/rotate_db_password.py) against this cycle's
        moto: a new current version of `<prefix>/airflow/db-password`; its calls are recorded
        (stack `rotation`). Returns the new version's id."""
        from importlib.util import module_from_spec, spec_from_file_location

        spec = spec_from_file_location("rotate_db_password", ROTATION_SCRIPT)
        script = module_from_spec(spec)
        spec.loader.exec_module(script)
        client = self.client("secretsmanager")
        with self.phases("rotate"), boto3_calls(client) as actions:
            version = script.rotate(client, prefix)
        self.record("rotation", "rotate", "rotate", actions)
        return version

    def outputs(self) -> dict:
        return {name: output["value"] for name, output in self.state().get("outputs", {}).items()}

    def resource_counts(self) -> Counter:
        """Managed resources in the state, per type."""
        counts: Counter = Counter()
        for resource in self.state().get("resources", []):
            if resource["mode"] == "managed" and resource.get("instances"):
                counts[resource["type"]] += len(resource["instances"])
        return counts

    def client(self, service: str):
        """A boto3 client of `service` talking to this cycle's moto."""
        import boto3  # dev dependency: only when a cycle is inspected

        return boto3.client(service, endpoint_url=self.moto.endpoint, region_name=self.region,
                            aws_access_key_id=CREDENTIAL, aws_secret_access_key=CREDENTIAL)

    def leftovers(self) -> list[str]:
        """What exists in moto of the kinds the stack creates: empty after a clean destroy.

        moto's default VPC (its subnets, route table, security group, internet gateway) does
        not count. KMS keys cannot be deleted at once, only scheduled for deletion: a
        customer key counts unless it is PendingDeletion.
        """
        ec2, eks, rds, s3, kms, iam, logs, secrets = (self.client(s) for s in (
            "ec2", "eks", "rds", "s3", "kms", "iam", "logs", "secretsmanager"))
        vpcs = ec2.describe_vpcs()["Vpcs"]
        default = {v["VpcId"] for v in vpcs if v.get("IsDefault")}
        found = [f"VPC {v['VpcId']} {v['CidrBlock']}" for v in vpcs if v["VpcId"] not in default]
        found += [f"subnet {s['SubnetId']}" for s in ec2.describe_subnets()["Subnets"] if s["VpcId"] not in default]
        found += [f"security group {g['GroupId']}" for g in ec2.describe_security_groups()["SecurityGroups"]
                  if g.get("VpcId") not in default]
        found += [f"route table {t['RouteTableId']}" for t in ec2.describe_route_tables()["RouteTables"]
                  if t["VpcId"] not in default]
        found += [f"internet gateway {g['InternetGatewayId']}"
                  for g in ec2.describe_internet_gateways()["InternetGateways"]
                  if not {a["VpcId"] for a in g.get("Attachments", [])} & default]
        found += [f"VPC peering {p['VpcPeeringConnectionId']} ({p['Status']['Code']})"
                  for p in ec2.describe_vpc_peering_connections()["VpcPeeringConnections"]
                  if p["Status"]["Code"] not in ("deleted", "deleting", "rejected", "failed", "expired")]
        found += [f"NAT gateway {g['NatGatewayId']}" for g in ec2.describe_nat_gateways()["NatGateways"]
                  if g["State"] not in ("deleted", "deleting")]
        found += [f"elastic IP {a.get('AllocationId')}" for a in ec2.describe_addresses()["Addresses"]]
        found += [f"launch template {t['LaunchTemplateName']}"
                  for t in ec2.describe_launch_templates()["LaunchTemplates"]]
        found += [f"flow log {f['FlowLogId']}" for f in ec2.describe_flow_logs()["FlowLogs"]]
        for cluster in eks.list_clusters()["clusters"]:
            found.append(f"EKS cluster {cluster}")
            found += [f"EKS node group {cluster}/{g}" for g in eks.list_nodegroups(clusterName=cluster)["nodegroups"]]
        found += [f"DB instance {d['DBInstanceIdentifier']}" for d in rds.describe_db_instances()["DBInstances"]]
        found += [f"DB subnet group {g['DBSubnetGroupName']}" for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]]
        found += [f"DB parameter group {g['DBParameterGroupName']}"
                  for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
                  if not g["DBParameterGroupName"].startswith("default.")]
        found += [f"S3 bucket {b['Name']}" for b in s3.list_buckets().get("Buckets", []) if b["Name"] != STATE_BUCKET]
        for key in kms.list_keys()["Keys"]:
            meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta.get("KeyManager") == "CUSTOMER" and meta["KeyState"] != "PendingDeletion":
                found.append(f"KMS key {key['KeyId']} ({meta['KeyState']})")
        found += [f"KMS alias {a['AliasName']}" for a in kms.list_aliases()["Aliases"]
                  if a.get("TargetKeyId") and not a["AliasName"].startswith("alias/aws/")]
        found += [f"IAM role {r['RoleName']}" for r in iam.list_roles()["Roles"]
                  if not r["Path"].startswith("/aws-service-role/")]
        found += [f"IAM policy {p['PolicyName']}" for p in iam.list_policies(Scope="Local")["Policies"]]
        found += [f"IAM OIDC provider {p['Arn']}"
                  for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
        found += [f"log group {g['logGroupName']}" for g in logs.describe_log_groups()["logGroups"]]
        found += [f"secret {s['Name']}" for s in secrets.list_secrets()["SecretList"] if not s.get("DeletedDate")]
        return found

    # --- Terraform ----------------------------------------------------------------------------

    def recorded_actions(self) -> set[str]:
        """The IAM actions of every AWS call made so far (with `record_api_calls`)."""
        return {action for phase in self.calls for action in phase.actions}

    def recorded_lists(self) -> dict[str, list[str]]:
        """The recorded lists of security/ci_actions.yaml (`api_calls.record_lists`)."""
        return record_lists(self.calls)

    def record(self, stack: str, command: str, log: str, actions: set[str]) -> None:
        """Adds calls made outside Terraform (the rotation runbook's, through boto3)."""
        self.calls.append(PhaseCalls(stack, command, log, frozenset(actions)))

    def _terraform(self, *args: str, log: str, check: bool = True, cwd: Path | None = None,
                   stack: str | None = None):
        cwd, stack = cwd or self.stack_dir, stack or self.source_dir.name
        if not self.record_api_calls:
            return terraform(cwd, *args, env=self._env, log_path=self.logs_dir / f"{log}.log", check=check)
        # The provider's log only: Terraform core's own debug output would double the time.
        debug_log = self.logs_dir / f"{log}.debug.log"
        env = dict(self._env, TF_LOG_PROVIDER="debug", TF_LOG_PATH=str(debug_log))
        try:
            return terraform(cwd, *args, env=env, log_path=self.logs_dir / f"{log}.log", check=check)
        finally:
            # A debug log holds request and response bodies, secret values among them: keep
            # only the actions it names, never the log itself.
            if debug_log.exists():
                self.record(stack, args[0], log, iam_actions([debug_log]))
                debug_log.unlink()


class CompanionStack:
    """Another stack planned and applied against a cycle's moto, beside its stack: the apps
    stack's AWS side (tools/emulator/apps_aws_side.py) reading the applied infra state. Its
    own folder and state; the cycle's phases, logs and record (as stack `name`).

        apps = CompanionStack(cycle, "apps", aws_side(apps_json, remote_states={"infra": cycle.state_config()}),
                              state_key=state_key(settings, "apps"))
        apps.start(); apps.plan(); apps.apply(); assert apps.replan() is None; ...; apps.destroy()
    """

    def __init__(self, cycle: EmulatorCycle, name: str, stack: dict, *, state_key: str) -> None:
        self.cycle = cycle
        self.name = name
        self.state_key = state_key  # in the cycle's state bucket, beside the cycle's own
        self.stack_dir = cycle.workdir / f"{name}-companion"
        self.adapted = copy.deepcopy(stack)
        self.may_hold_resources = False
        self.destroyed = False
        self.outputs: dict[str, str] = {}  # Terraform's output of each phase, by log name

    def start(self) -> None:
        with self.cycle.phases(f"{self.name} init"):
            point_provider_at(self.adapted, self.cycle.moto.endpoint)
            use_emulator_state(self.adapted, self.cycle.moto.endpoint, self.state_key)
            self.stack_dir.mkdir(parents=True, exist_ok=True)
            (self.stack_dir / STACK_FILE).write_text(json.dumps(self.adapted, indent=2))
            self._run("init", "-input=false", log=f"{self.name}-init")

    def plan(self, log: str = "plan") -> None:
        with self.cycle.phases(f"{self.name} {log}"):
            self._run("plan", "-input=false", f"-out={PLAN_FILE}", log=f"{self.name}-{log}")

    def reconfigure(self, stack: dict) -> None:
        """Another version of the stack (new settings) over the applied one: the next plan, apply and
        destroy act on it."""
        self.adapted = copy.deepcopy(stack)
        point_provider_at(self.adapted, self.cycle.moto.endpoint)
        use_emulator_state(self.adapted, self.cycle.moto.endpoint, self.state_key)
        (self.stack_dir / STACK_FILE).write_text(json.dumps(self.adapted, indent=2))

    def planned(self, log: str) -> dict:
        """`plan` into the plan file that `apply` applies, and the plan itself (`terraform show -json`)."""
        self.plan(log)
        with self.cycle.phases(f"{self.name} {log}-show"):
            return json.loads(self._run("show", "-json", PLAN_FILE, log=f"{self.name}-{log}-show").stdout)

    def apply(self, log: str = "apply") -> None:
        with self.cycle.phases(f"{self.name} {log}"):
            self.may_hold_resources = True
            self._run("apply", "-input=false", "-auto-approve", PLAN_FILE, log=f"{self.name}-{log}")

    def replan(self, log: str = "re-plan") -> str | None:
        """A refreshing plan: None when it finds nothing to change, else its output."""
        with self.cycle.phases(f"{self.name} {log}"):
            return planned_changes(self._run("plan", "-input=false", "-detailed-exitcode", log=f"{self.name}-{log}",
                                             check=False))

    def destroy(self, log: str = "destroy") -> None:
        with self.cycle.phases(f"{self.name} {log}"):
            self._run("destroy", "-input=false", "-auto-approve", log=f"{self.name}-{log}")
            self.destroyed = True

    def opened(self, log: str) -> set[str]:
        """The ephemeral resources Terraform opened in phase `log` (its "Opening complete" lines)."""
        return set(OPENED.findall(self.outputs[f"{self.name}-{log}"]))

    def ephemerals(self) -> set[str]:
        return {f"ephemeral.{rtype}.{name}" for rtype, items in self.adapted.get("ephemeral", {}).items()
                for name in items}

    def _run(self, *args: str, log: str, check: bool = True):
        result = self.cycle._terraform(*args, log=log, check=check, cwd=self.stack_dir, stack=self.name)
        self.outputs[log] = result.stdout
        return result


def planned_changes(result) -> str | None:
    """A `terraform plan -detailed-exitcode` result: None for no changes, else its output; raises on an error."""
    if result.returncode not in (NO_CHANGES, CHANGES):
        raise TerraformError(f"terraform plan failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return None if result.returncode == NO_CHANGES else result.stdout


def counts_table(counts: Counter) -> str:
    """What was created: resources per type (from the state before destroy)."""
    if not counts:
        return "(no resources)"
    width = max(len(t) for t in counts)
    lines = [f"{'resource type':<{width}}  count", f"{'-' * width}  -----"]
    lines += [f"{rtype:<{width}}  {n:5d}" for rtype, n in sorted(counts.items())]
    lines.append(f"{'total':<{width}}  {sum(counts.values()):5d}")
    return "\n".join(lines)
