"""tools/emulator/moto_faithful.py, through the real server process the emulator cycle starts
(tools/emulator/moto_server.py): RDS gives each DB instance its own DbiResourceId ("The Amazon Web
Services Region-unique, immutable identifier for the DB instance", RDS API Reference, DBInstance),
including an instance restored from another; stock moto 5.2.5 gives every instance one id."""

import boto3
import pytest

from tools.emulator.moto_server import MotoServer

pytestmark = pytest.mark.emulator  # moto's server process, as the emulator cycle starts it


@pytest.fixture(scope="module")
def rds(tmp_path_factory):
    with MotoServer(tmp_path_factory.mktemp("moto") / "moto.log") as moto:
        yield boto3.client("rds", endpoint_url=moto.endpoint, region_name="eu-west-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")


def create(rds, name: str) -> dict:
    return rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t4g.micro", Engine="postgres",
                                  AllocatedStorage=20, MasterUsername="admin",
                                  MasterUserPassword="a-long-password")["DBInstance"]  # pragma: allowlist secret


def test_two_db_instances_have_two_resource_ids(rds):
    first, second = create(rds, "first"), create(rds, "second")
    assert first["DbiResourceId"] != second["DbiResourceId"]
    assert all(i["DbiResourceId"].startswith("db-") and len(i["DbiResourceId"]) == 29 for i in (first, second))
    # Immutable: describing it again gives the id it was created with.
    assert rds.describe_db_instances(DBInstanceIdentifier="first")["DBInstances"][0]["DbiResourceId"] == first["DbiResourceId"]


def test_a_point_in_time_restore_gets_its_own_resource_id_and_the_filter_finds_one(rds):
    """The AWS provider waits for the restored instance with a `dbi-resource-id` filter."""
    source = create(rds, "source")
    restored = rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="source",
                                                        TargetDBInstanceIdentifier="source-restored",
                                                        UseLatestRestorableTime=True)["DBInstance"]
    assert restored["DbiResourceId"] != source["DbiResourceId"]
    # A restore is a standalone instance, not a read replica ("if this DB instance is a read
    # replica", DBInstance.ReadReplicaSourceDBInstanceIdentifier): the provider's replicate_source_db.
    described = rds.describe_db_instances(DBInstanceIdentifier="source-restored")["DBInstances"][0]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in described
    found = rds.describe_db_instances(Filters=[{"Name": "dbi-resource-id", "Values": [restored["DbiResourceId"]]}])
    assert [i["DBInstanceIdentifier"] for i in found["DBInstances"]] == ["source-restored"]
