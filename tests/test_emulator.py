"""The infra stack, applied with real Terraform and the real AWS provider against moto on
127.0.0.1 (an AWS emulator; what it lacks is adapted in tools/emulator/adapt.py), and the
apps stack's AWS side (tools/emulator/apps_aws_side.py) planned and applied against it.

One apply cycle takes minutes, so it runs once per module: the `cycle` fixture applies,
the tests below look at the result through boto3, the apps stack's AWS side runs, the
rotation runbook stores a new password, and the LAST tests destroy (apps, then infra) and
check that nothing is left. pytest runs a module's tests in the order they are written;
keep the phases in order and the destroy tests and then the action record last. Whatever
fails, or whichever tests are selected, the fixture's teardown destroys what is left and
stops moto.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import urllib.parse
import zipfile
from collections import Counter

import pytest

from airflow_platform.generated_secrets import GENERATED, secret_name
from airflow_platform.state_location import legacy_state_key, state_key
from tools.emulator.adapt import CREDENTIAL, STATE_BUCKET
from tools.emulator.api_calls import ACTIONS_RECORD, NOT_EMULATED, read_record
from emulator_run import applied
from state_scripts import run_state_script
from tools.emulator.apps_aws_side import aws_side
from tools.emulator.cycle import PLAN_FILE, CompanionStack
from tools.emulator.eks_upgrade import check_eks_upgrade
from tools.emulator.db_restore_rehearsal import rehearse_snapshot_and_restore
from tools.emulator.not_emulated import not_emulated_actions

pytestmark = pytest.mark.emulator

POSTGRES_PORT = 5432
EBS_CSI_SERVICE_ACCOUNT = "system:serviceaccount:kube-system:ebs-csi-controller-sa"
CONTROL_PLANE_LOG_TYPES = {"api", "audit", "authenticator", "controllerManager", "scheduler"}


@pytest.fixture(scope="module")
def cycle(synth_previous_eks, tmp_path_factory):
    # State at dev's production key, in an S3 bucket of moto's that prod's plan shares below.
    # Applied one Kubernetes minor back, so that the default's plan is an EKS upgrade (the test
    # after the re-plan); nothing else differs (tests/test_eks_upgrades.py), and moto cannot
    # apply an upgrade, so the cycle goes on at that minor.
    with applied(synth_previous_eks.stack_dir("infra"), tmp_path_factory.mktemp("emulator"), record_api_calls=True,
                 state_key=state_key(synth_previous_eks.settings, "infra")) as cycle:
        yield cycle


@pytest.fixture(scope="module")
def apps(cycle, synth_previous_eks) -> CompanionStack:
    """The apps stack's AWS side (its aws data sources and ephemeral reads), reading the
    applied infra state, against the same moto: initialised, not yet planned."""
    apps_stack = aws_side(synth_previous_eks.apps, remote_states={"infra": cycle.state_config()})
    side = CompanionStack(cycle, "apps", apps_stack, state_key=state_key(synth_previous_eks.settings, "apps"))
    side.start()
    return side


@pytest.fixture(scope="module")
def s(synth):
    return synth.settings


@pytest.fixture(scope="module")
def ec2(cycle):
    return cycle.client("ec2")


def one(items: list, what: str):
    assert len(items) == 1, f"expected one {what}, found {items}"
    return items[0]


def vpc_id(ec2, cidr: str) -> str:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "cidr-block-association.cidr-block", "Values": [cidr]}])["Vpcs"]
    return one(vpcs, f"VPC with CIDR {cidr}")["VpcId"]


def route_tables_of(ec2, subnet_ids: list[str]) -> dict[str, dict]:
    """The route table each subnet uses: its explicit association, else its VPC's main table."""
    tables = {}
    for subnet_id in subnet_ids:
        explicit = ec2.describe_route_tables(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])["RouteTables"]
        if not explicit:
            vpc = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"]
            explicit = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                          {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
        tables[subnet_id] = one(explicit, f"route table of {subnet_id}")
    return tables


def node_group(cycle, s) -> dict:
    eks = cycle.client("eks")
    name = one(eks.list_nodegroups(clusterName=s.cluster_name)["nodegroups"], "node group")
    return eks.describe_nodegroup(clusterName=s.cluster_name, nodegroupName=name)["nodegroup"]


def db_instance(cycle) -> dict:
    return one(cycle.client("rds").describe_db_instances()["DBInstances"], "DB instance")


def peering(ec2, s) -> dict:
    connections = ec2.describe_vpc_peering_connections(Filters=[
        {"Name": "requester-vpc-info.vpc-id", "Values": [vpc_id(ec2, str(s.eks_vpc_cidr))]},
        {"Name": "accepter-vpc-info.vpc-id", "Values": [vpc_id(ec2, str(s.rds_vpc_cidr))]},
    ])["VpcPeeringConnections"]
    return one(connections, "peering between the EKS and the RDS VPC")


@pytest.fixture(scope="module")
def secret_values() -> set[str]:
    """Every secret value seen in Secrets Manager during the cycle (tests add to it)."""
    return set()


def read_secrets(cycle, s, secret_values: set[str]) -> dict[str, str]:
    """The current value of every generated secret and the RDS master password, remembered."""
    sm = cycle.client("secretsmanager")
    values = {g.name: sm.get_secret_value(SecretId=secret_name(s.prefix, g.name))["SecretString"] for g in GENERATED}
    master = sm.get_secret_value(SecretId=db_instance(cycle)["MasterUserSecret"]["SecretArn"])["SecretString"]
    values["master"] = json.loads(master)["password"]
    secret_values.update(values.values())
    return values


def leaked_forms(value: str) -> set[str]:
    """A value as it could appear in a file or a log: plain, base64, URL-encoded, JSON-escaped."""
    raw = value.encode()
    return {value, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
            urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value), json.dumps(value)[1:-1]}


def state_versions(cycle) -> dict[str, str]:
    """Every version of every object in the state bucket (the S3 backend keeps them all, as the
    real versioned bucket does), by `<key>@<version>`."""
    s3 = cycle.client("s3")
    versions = s3.list_object_versions(Bucket=STATE_BUCKET).get("Versions", [])
    return {f"{v['Key']}@{v['VersionId']}": s3.get_object(Bucket=STATE_BUCKET, Key=v["Key"], VersionId=v["VersionId"])[
        "Body"].read().decode(errors="replace") for v in versions}


def leaks(cycle, secret_values: set[str], *companions: CompanionStack) -> list[str]:
    """Which state (every version in the bucket), plan file or Terraform log holds a secret (never
    the secret itself)."""
    texts = {p.name: p.read_text(errors="replace") for p in sorted(cycle.logs_dir.glob("*.log"))}
    texts |= state_versions(cycle)
    for path in sorted(cycle.workdir.rglob("*.tfstate*")):  # none expected: the backends are S3
        texts[path.name] = path.read_text(errors="replace")
    for folder in [cycle.stack_dir] + [c.stack_dir for c in companions]:
        if (folder / PLAN_FILE).exists():
            with zipfile.ZipFile(folder / PLAN_FILE) as plan:
                texts[f"{folder.name}/{PLAN_FILE}"] = "".join(
                    plan.read(n).decode(errors="replace") for n in plan.namelist())
    assert texts, "nothing to search"
    return [f"a {len(value)}-character secret in {name}" for value in secret_values
            for form in leaked_forms(value) for name, text in texts.items() if form in text]


# --- the cycle ---------------------------------------------------------------------------------

def test_second_plan_reports_no_changes(cycle):
    changes = cycle.replan()
    assert changes is None, f"the plan after apply is not empty:\n{changes}"


def test_an_eks_upgrade_updates_the_control_plane_then_the_nodes_in_place(cycle, synth, synth_previous_eks):
    """The default `eks_version` planned over a cluster applied one minor back (the add-ons are
    left out here: tools/emulator/eks_upgrade.py says what that leaves unproven). Besides the
    two version updates, only the IRSA trust policies, read again at apply from the issuer the
    plan keeps (READ_AGAIN); check_eks_upgrade raises on anything else."""
    upgrade = check_eks_upgrade(cycle, synth.infra)
    before, after = synth_previous_eks.settings.eks_version, synth.settings.eks_version
    assert {tuple(actions) for actions in upgrade.changes.values()} == {("update",)}
    assert sorted(upgrade.versions.values()) == [(before, after), (before, after)]
    assert {address.split(".")[0] for address in upgrade.changes} <= {"aws_eks_cluster", "aws_eks_node_group",
                                                                     "aws_iam_role"}
    assert upgrade.identity_kept
    assert [address.split(".")[0] for address in upgrade.order] == ["aws_eks_node_group", "aws_eks_cluster"]


def test_generated_secrets_are_in_secrets_manager_under_the_project_key(cycle, s, secret_values):
    values = read_secrets(cycle, s, secret_values)
    sm, kms = cycle.client("secretsmanager"), cycle.client("kms")
    key_arn = kms.describe_key(KeyId=f"alias/{s.prefix}-airflow-secrets")["KeyMetadata"]["Arn"]
    for g in GENERATED:
        assert sm.describe_secret(SecretId=secret_name(s.prefix, g.name))["KmsKeyId"] in (key_arn, key_arn.split("/")[-1])
        if not g.fernet:
            assert len(values[g.name]) == g.length and values[g.name].isalnum(), g.name
    # A Fernet key: 32 bytes, url-safe base64.
    assert len(base64.urlsafe_b64decode(values["fernet-key"])) == 32


def test_no_secret_value_in_state_plan_or_terraform_output(cycle, s, secret_values):
    read_secrets(cycle, s, secret_values)
    assert len(secret_values) == len(GENERATED) + 1
    assert leaks(cycle, secret_values) == []


def test_the_leak_check_finds_a_planted_value(cycle, secret_values):
    """The check above can fail: a value written into a log is found, in any of its forms."""
    value = next(iter(sorted(secret_values)))
    planted = cycle.logs_dir / "planted.log"
    try:
        for form in sorted(leaked_forms(value)):
            planted.write_text(f"Read complete after 0s [id={form}]")
            assert leaks(cycle, {value}) == [f"a {len(value)}-character secret in planted.log"], sorted(
                leaked_forms(value)).index(form)
    finally:
        planted.unlink()


def test_the_apps_stacks_aws_side_plans_applies_and_settles(apps, secret_values):
    """What the apps stack's AWS provider reads in CI: the cluster, each secret's versions and
    value. Every ephemeral block is opened in plan and in apply (unconsumed here: see
    tools/emulator/apps_aws_side.py), and no value reaches a file or a log."""
    apps.plan()
    apps.apply()
    assert apps.replan() is None
    assert len(apps.ephemerals()) == 6
    for phase in ("plan", "apply", "re-plan"):
        assert apps.opened(phase) == apps.ephemerals(), phase
    assert leaks(apps.cycle, secret_values, apps) == []


def test_a_rotation_keeps_the_replan_empty_and_reaches_the_apps_side(cycle, apps, s, secret_values):
    """The rotation runbook (scripts/rotate_db_password.py) writes a new version outside
    Terraform: Terraform must not fight it, and the apps stack's next plan reads it."""
    sm = cycle.client("secretsmanager")
    name = secret_name(s.prefix, "db-password")
    before = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    version = cycle.rotate_db_password(s.prefix)
    new = sm.get_secret_value(SecretId=name)["SecretString"]
    secret_values.add(new)
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages[version] == ["AWSCURRENT"]
    (terraform_owned,) = before
    assert stages[terraform_owned] == ["AWSPREVIOUS"]  # what destroy must un-stage (UpdateSecretVersionStage)
    changes = cycle.replan(log="re-plan-after-rotation")
    assert changes is None, f"the plan after a new secret version is not empty:\n{changes}"
    apps.plan(log="plan-after-rotation")
    apps.apply(log="apply-after-rotation")
    assert apps.opened("plan-after-rotation") == apps.ephemerals()
    assert leaks(cycle, secret_values, apps) == []


def test_db_bootstrap_role_reads_only_its_two_secrets(cycle, s):
    iam = cycle.client("iam")
    role = f"{s.prefix}-airflow-db-bootstrap"
    trust = one(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"], "trust statement")
    sub = one([v for k, v in trust["Condition"]["StringEquals"].items() if k.endswith(":sub")], "sub condition")
    assert sub == f"system:serviceaccount:{s.airflow_namespace}:airflow-db-role-bootstrap"
    name = one(iam.list_role_policies(RoleName=role)["PolicyNames"], "inline policy")
    statements = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]["Statement"]
    read, decrypt = statements
    master_arn = db_instance(cycle)["MasterUserSecret"]["SecretArn"]
    password_arn = cycle.client("secretsmanager").describe_secret(SecretId=secret_name(s.prefix, "db-password"))["ARN"]
    assert sorted(read["Resource"]) == sorted([master_arn, password_arn])
    assert decrypt["Action"] == "kms:Decrypt" and len(decrypt["Resource"]) == 2
    assert not any("*" in r for st in statements for r in st["Resource"])


def test_every_resource_of_the_adapted_stack_was_created(cycle):
    declared = Counter({rtype: len(found) for rtype, found in cycle.adapted["resource"].items()})
    assert cycle.resource_counts() == declared


# --- network: peering and routes ------------------------------------------------------------------

def test_peering_connection_is_active_with_dns_resolution(ec2, s):
    connection = peering(ec2, s)
    assert connection["Status"]["Code"] == "active"
    assert connection["RequesterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"] is True
    assert connection["AccepterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"] is True


def test_node_subnets_route_the_rds_vpc_through_the_peering(cycle, ec2, s):
    pcx = peering(ec2, s)["VpcPeeringConnectionId"]
    for subnet_id, table in route_tables_of(ec2, node_group(cycle, s)["subnets"]).items():
        routes = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == str(s.rds_vpc_cidr)]
        assert [r.get("VpcPeeringConnectionId") for r in routes] == [pcx], (subnet_id, table["Routes"])


def test_db_subnets_route_the_eks_vpc_through_the_peering(cycle, ec2, s):
    pcx = peering(ec2, s)["VpcPeeringConnectionId"]
    subnet_ids = [x["SubnetIdentifier"] for x in db_instance(cycle)["DBSubnetGroup"]["Subnets"]]
    assert subnet_ids
    for subnet_id, table in route_tables_of(ec2, subnet_ids).items():
        routes = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == str(s.eks_vpc_cidr)]
        assert [r.get("VpcPeeringConnectionId") for r in routes] == [pcx], (subnet_id, table["Routes"])


# --- the database ---------------------------------------------------------------------------------

def test_db_security_group_admits_only_postgres_from_the_node_security_group(cycle, ec2, s):
    group_id = one(db_instance(cycle)["VpcSecurityGroups"], "DB security group")["VpcSecurityGroupId"]
    group = one(ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"], "security group")
    # The node security group: the one the node group's launch template gives every node.
    template = node_group(cycle, s)["launchTemplate"]
    data = ec2.describe_launch_template_versions(LaunchTemplateId=template["id"],
                                                 Versions=[template["version"]])["LaunchTemplateVersions"][0]
    node_sg = one(data["LaunchTemplateData"]["SecurityGroupIds"], "node security group")

    rule = one(group["IpPermissions"], "ingress rule of the DB security group")
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", POSTGRES_PORT, POSTGRES_PORT)
    assert [pair["GroupId"] for pair in rule["UserIdGroupPairs"]] == [node_sg]
    assert not rule.get("IpRanges") and not rule.get("Ipv6Ranges") and not rule.get("PrefixListIds")
    assert group["IpPermissionsEgress"] == []


def test_db_instance_is_private_encrypted_and_in_the_rds_vpc(cycle, ec2, s):
    db = db_instance(cycle)
    assert db["PubliclyAccessible"] is False
    assert db["StorageEncrypted"] is True and db["KmsKeyId"]
    assert db["DBSubnetGroup"]["VpcId"] == vpc_id(ec2, str(s.rds_vpc_cidr))
    rds_vpc = s.rds_vpc_cidr
    for subnet in ec2.describe_subnets(
            SubnetIds=[x["SubnetIdentifier"] for x in db["DBSubnetGroup"]["Subnets"]])["Subnets"]:
        assert ipaddress.ip_network(subnet["CidrBlock"]).subnet_of(rds_vpc), subnet
    # The master password is RDS's, kept in Secrets Manager under the database's key.
    secret = db["MasterUserSecret"]
    assert secret["KmsKeyId"] == db["KmsKeyId"]
    cycle.client("secretsmanager").describe_secret(SecretId=secret["SecretArn"])


# --- the cluster ----------------------------------------------------------------------------------

def test_cluster_encrypts_secrets_and_logs_the_control_plane(cycle, s):
    cluster = cycle.client("eks").describe_cluster(name=s.cluster_name)["cluster"]
    encryption = one(cluster["encryptionConfig"], "encryption config")
    assert encryption["resources"] == ["secrets"]
    key = cycle.client("kms").describe_key(KeyId=encryption["provider"]["keyArn"])["KeyMetadata"]
    assert key["KeyState"] == "Enabled"
    enabled = {t for entry in cluster["logging"]["clusterLogging"] if entry["enabled"] for t in entry["types"]}
    assert enabled == CONTROL_PLANE_LOG_TYPES


def test_component_log_groups_exist_encrypted_and_retained_before_the_add_on(cycle, s):
    """The add-on (left out here: moto has no add-on API) would create missing groups without a
    key or retention; these are Terraform's, keyed and retained, when it starts writing."""
    groups = cycle.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/containerinsights/{s.cluster_name}/")["logGroups"]
    assert sorted(g["logGroupName"].rsplit("/", 1)[1] for g in groups) == ["application", "dataplane", "host",
                                                                          "performance"]
    assert {g.get("retentionInDays") for g in groups} == {s.component_log_retention_days}
    [key_arn] = {g.get("kmsKeyId") for g in groups}
    kms = cycle.client("kms")
    assert kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "Enabled"
    policy = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    assert any(st.get("Principal", {}).get("Service") == f"logs.{s.region}.amazonaws.com" for st in policy["Statement"])


def test_the_alarms_and_the_alert_manager_notify_the_encrypted_topic(cycle, synth):
    """describe_alarms shows each alarm wired to the topic (tools/emulator/alert_wiring.py says
    what moto cannot show: it evaluates no alarm and delivers nothing)."""
    from tools.emulator.alert_wiring import alert_wiring_problems

    alarms = {a["alarm_name"] for a in synth.infra["resource"]["aws_cloudwatch_metric_alarm"].values()}
    assert alert_wiring_problems(cycle.client, synth.settings.prefix, alarms) == []


def test_node_group_runs_in_the_private_subnets(cycle, ec2, s):
    group_subnets = node_group(cycle, s)["subnets"]
    private = ec2.describe_subnets(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id(ec2, str(s.eks_vpc_cidr))]},
        {"Name": "cidr-block", "Values": [str(net) for net in s.eks_private_subnet_cidrs]},
    ])["Subnets"]
    assert sorted(group_subnets) == sorted(x["SubnetId"] for x in private)
    assert len(group_subnets) == len(s.availability_zones)
    for subnet_id, table in route_tables_of(ec2, group_subnets).items():
        default = one([r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"],
                      f"default route of {subnet_id}")
        assert default.get("NatGatewayId", "").startswith("nat-"), default  # NAT, never an internet gateway


def test_ebs_csi_role_trusts_only_its_service_account(cycle, s):
    iam = cycle.client("iam")
    issuer = cycle.client("eks").describe_cluster(name=s.cluster_name)["cluster"]["identity"]["oidc"]["issuer"]
    issuer_host = issuer.removeprefix("https://")
    provider_arn = one([p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
                        if p["Arn"].endswith(f":oidc-provider/{issuer_host}")], "OIDC provider of the cluster")
    role = iam.get_role(RoleName=f"{s.cluster_name}-ebs-csi-driver")["Role"]
    statement = one(role["AssumeRolePolicyDocument"]["Statement"], "trust statement")
    assert statement["Effect"] == "Allow"
    assert statement["Action"] in ("sts:AssumeRoleWithWebIdentity", ["sts:AssumeRoleWithWebIdentity"])
    assert statement["Principal"] == {"Federated": provider_arn}
    assert statement["Condition"] == {"StringEquals": {
        f"{issuer_host}:sub": EBS_CSI_SERVICE_ACCOUNT,
        f"{issuer_host}:aud": "sts.amazonaws.com",
    }}
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonEBSCSIDriverPolicy"]


# --- the task-logs bucket -------------------------------------------------------------------------

def test_logs_bucket_is_encrypted_and_blocks_public_access(cycle):
    s3 = cycle.client("s3")
    bucket = cycle.outputs()["logs_bucket_name"]
    rule = one(s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"],
               "encryption rule")
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key_id = rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    assert cycle.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                     "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


# --- one state per environment: prod shares dev's bucket; the guard; the migration ---------------

def moto_s3(cycle) -> dict[str, str]:
    """What points the scripts' boto3 at moto: the SDKs' service endpoint variable."""
    return {"AWS_ENDPOINT_URL_S3": cycle.moto.endpoint, "AWS_ACCESS_KEY_ID": CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": CREDENTIAL, "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def state_objects(cycle) -> dict[str, str]:
    """The current version id of each state object (not the lock files) in the bucket."""
    versions = cycle.client("s3").list_object_versions(Bucket=STATE_BUCKET).get("Versions", [])
    return {v["Key"]: v["VersionId"] for v in versions if v["IsLatest"] and v["Key"].endswith(".tfstate")}


def infra_state_objects(cycle) -> list[str]:
    """The infra stack's state objects, wherever they are (the apps side keeps its own beside them)."""
    return [key for key in state_objects(cycle) if key.endswith("/infra.tfstate")]


def test_devs_state_is_at_its_environments_key_and_says_so(cycle, s):
    assert cycle.state_key == "airflow-platform/airflow-dev/infra.tfstate"
    assert cycle.state_key in state_objects(cycle)
    assert set(state_objects(cycle)) <= {cycle.state_key, state_key(s, "apps")}  # the apps side's, once applied
    assert cycle.state()["outputs"]["environment"]["value"] == s.prefix == "airflow-dev"


def test_prod_plans_into_the_same_bucket_only_creations(cycle, synth_prod):
    """prod's infra stack, with its own key in the bucket dev's state is in: a plan from
    nothing. Before one state per environment both used one key, and this plan replaced
    every resource of dev's."""
    before = state_objects(cycle)
    prod_key = state_key(synth_prod.settings, "infra")
    assert prod_key != cycle.state_key
    plan = cycle.plan_elsewhere(synth_prod.infra, state_key=prod_key, log="plan-prod")
    changes = [c for c in plan["resource_changes"] if c["mode"] == "managed"]
    assert changes and {a for c in changes for a in c["change"]["actions"]} == {"create"}, changes
    prior = plan.get("prior_state", {}).get("values", {}).get("root_module", {}).get("resources", [])
    assert [r["address"] for r in prior if r["mode"] == "managed"] == []
    (cluster,) = [c["change"]["after"] for c in changes if c["type"] == "aws_eks_cluster"]
    assert cluster["name"] == "airflow-prod"  # its own names, beside dev's
    assert state_objects(cycle) == before  # dev's state not rewritten; prod's not written by a plan


def test_the_guard_refuses_prod_pointed_at_devs_state(cycle, s, synth_prod, tmp_path):
    s3 = cycle.client("s3")
    prod_key = state_key(synth_prod.settings, "infra")
    s3.copy_object(Bucket=STATE_BUCKET, Key=prod_key, CopySource={"Bucket": STATE_BUCKET, "Key": cycle.state_key})
    try:
        refused = run_state_script("state_guard", "infra", root=tmp_path, env=moto_s3(cycle), profile="prod",
                                   state_bucket=STATE_BUCKET)
    finally:
        s3.delete_object(Bucket=STATE_BUCKET, Key=prod_key)
    assert refused.returncode == 2, refused
    assert (f"error: infra: the state at s3://{STATE_BUCKET}/{prod_key} belongs to environment airflow-dev, "
            "but the settings name environment airflow-prod") in refused.stderr
    passed = run_state_script("state_guard", "infra", root=tmp_path, env=moto_s3(cycle), profile="dev",
                              state_bucket=STATE_BUCKET)
    assert passed.returncode == 0, passed


def test_the_migration_moves_a_deployment_from_before_and_it_plans_no_change(cycle, s, tmp_path):
    """dev's applied state put back where the code before one state per environment kept it,
    as that code wrote it (no `environment` output: recognised by its default tags), then
    `migrate_state.py`: prod's settings are refused, dev's move it, and dev plans no change
    to any resource (only the new `environment` output)."""
    s3 = cycle.client("s3")
    old_key = legacy_state_key(s, "infra")
    applied_state = cycle.state()
    before = json.loads(json.dumps(applied_state))
    del before["outputs"]["environment"]
    s3.put_object(Bucket=STATE_BUCKET, Key=old_key, Body=json.dumps(before).encode(), ServerSideEncryption="AES256")
    s3.delete_object(Bucket=STATE_BUCKET, Key=cycle.state_key)
    try:
        scripts = dict(root=tmp_path, env=moto_s3(cycle), state_bucket=STATE_BUCKET)
        guard = run_state_script("state_guard", "infra", profile="dev", **scripts)
        assert guard.returncode == 2 and guard.stderr.rstrip().endswith("make migrate-state"), guard
        refused = run_state_script("migrate_state", profile="prod", **scripts)
        assert refused.returncode == 2 and "belongs to environment airflow-dev, not airflow-prod" in refused.stderr
        assert infra_state_objects(cycle) == [old_key]  # nothing moved
        moved = run_state_script("migrate_state", profile="dev", **scripts)
        assert moved.returncode == 0, moved
        assert f"infra: moved s3://{STATE_BUCKET}/{old_key} -> s3://{STATE_BUCKET}/{cycle.state_key}" in moved.stdout
        assert infra_state_objects(cycle) == [cycle.state_key]
    finally:
        if cycle.state_key not in state_objects(cycle):  # whatever failed: destroy must find the state
            s3.put_object(Bucket=STATE_BUCKET, Key=cycle.state_key, Body=json.dumps(applied_state).encode())
    plan = cycle.plan_of(cycle.stack, log="plan-after-migration")
    acting = {c["address"]: c["change"]["actions"] for c in plan["resource_changes"] if c["change"]["actions"] != ["no-op"]}
    assert acting == {}
    assert {name: c["actions"] for name, c in plan.get("output_changes", {}).items() if c["actions"] != ["no-op"]} == {
        "environment": ["create"]}


# --- the pre-upgrade snapshot and the restore runbook (docs/restore.md) ----------------------------

def test_a_new_airflow_version_snapshots_first_and_a_restore_switches_with_one_setting(
        cycle, apps, synth_next_airflow, synth_restored, secret_values, capsys):
    """tools/emulator/db_restore_rehearsal.py: it raises on any unexpected change. After it, two
    DB instances exist (the created one, kept, and the restored one the platform uses)."""
    done = rehearse_snapshot_and_restore(cycle, apps, next_airflow_apps=synth_next_airflow.apps,
                                         restored_infra=synth_restored.infra, restored_apps=synth_restored.apps)
    assert done.snapshots_before == [f"{done.source_id}-before-airflow-3-3-2"]
    assert done.snapshots_after_upgrade == [f"{done.source_id}-before-airflow-3-3-3"]
    assert done.restored_id == f"{done.source_id}-restored-latest"
    # One instance created; updated in place: the bootstrap role's policy and the database alarms.
    creates = [a for a, actions in done.restore_changes.items() if actions == ["create"]]
    updates = [a for a, actions in done.restore_changes.items() if actions == ["update"]]
    assert [a.split(".")[0] for a in creates] == ["aws_db_instance"]
    assert sorted(a.split(".")[0] for a in updates) == ["aws_cloudwatch_metric_alarm"] * 3 + ["aws_iam_role_policy"]
    assert len(creates) + len(updates) == len(done.restore_changes)
    # The restored instance's master password, for the leak checks of destroy below.
    new = cycle.client("rds").describe_db_instances(DBInstanceIdentifier=done.restored_id)["DBInstances"][0]
    master = cycle.client("secretsmanager").get_secret_value(SecretId=new["MasterUserSecret"]["SecretArn"])
    secret_values.add(json.loads(master["SecretString"])["password"])
    assert leaks(cycle, secret_values, apps) == []
    with capsys.disabled():
        print(f"\nsnapshot and restore phase: {done.seconds:.1f} s; moto's orphan master secrets removed: "
              f"{len(done.moto_orphan_secrets)}")


# --- destroy: LAST -------------------------------------------------------------------------------

def test_inventory_sees_what_was_applied(cycle, s):
    """The emptiness check below can fail: before destroy it finds the stack."""
    found = cycle.leftovers()
    assert f"EKS cluster {s.cluster_name}" in found
    assert any(x.startswith("DB instance ") for x in found)
    assert sum(x.startswith("VPC vpc-") for x in found) == 2
    assert any(x.startswith("S3 bucket ") for x in found)
    assert sum(x.startswith("KMS key ") for x in found) == cycle.resource_counts()["aws_kms_key"]


def test_the_apps_stacks_aws_side_destroys(apps):
    """CI destroys apps before infra: its data sources and ephemeral reads run once more."""
    apps.destroy()
    assert apps.opened("destroy") == apps.ephemerals()


def test_destroy_leaves_nothing(cycle, capsys, secret_values):
    counts = cycle.resource_counts()
    cycle.destroy()
    assert (cycle.logs_dir / "destroy.log").exists()
    assert leaks(cycle, secret_values) == []
    assert cycle.resource_counts() == {}
    assert cycle.leftovers() == []
    kms = cycle.client("kms")
    states = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in kms.list_keys()["Keys"]]
    # Terraform's keys, and any moto made for a probe outside Terraform (db_restore_rehearsal)
    assert states == ["PendingDeletion"] * (counts["aws_kms_key"] + len(cycle.keys_outside_terraform))

    with capsys.disabled():  # the benchmark, in the test run's output
        print(f"\nemulator cycle ({sum(counts.values())} resources):")
        print("\n".join(f"  {line}" for line in cycle.phases.table().splitlines()))


def test_the_recorded_aws_actions_are_the_ones_the_ci_policies_are_tested_against(cycle):
    """After destroy: every phase of both stacks and the rotation is recorded (from the
    provider's debug logs, which are deleted once read: they hold secret values).
    tests/test_ci_policies.py proves the deploy and plan policies against
    security/ci_actions.yaml; this keeps that file true."""
    assert cycle.destroyed
    recorded = cycle.recorded_lists() | {NOT_EMULATED: not_emulated_actions()}
    assert {"ec2:CreateVpc", "ec2:DeleteVpc", "ec2:DescribeVpcs"} <= set(recorded["infra_deploy"])
    # data.aws_secretsmanager_secret_versions, at plan (and again at destroy)
    assert "secretsmanager:ListSecretVersionIds" in recorded["apps_plan"]
    # the delete of the Terraform-owned secret version that a rotation left AWSPREVIOUS
    assert "secretsmanager:UpdateSecretVersionStage" in recorded["infra_deploy"]
    assert {"secretsmanager:PutSecretValue"} <= set(recorded["rotation"])
    committed = read_record(ACTIONS_RECORD)
    drift = {name: (sorted(set(actions) - set(committed.get(name, []))),
                    sorted(set(committed.get(name, [])) - set(actions)))
             for name, actions in recorded.items()}
    assert set(committed) == set(recorded)
    assert {name: d for name, d in drift.items() if d != ([], [])} == {}, (
        "rewrite it: .venv/bin/python -m tools.emulator.rehearse --record-actions")

