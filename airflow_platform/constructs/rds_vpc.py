"""RdsVpc: a VPC that holds only the Airflow metadata database's subnets."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.subnet import Subnet

from airflow_platform.constructs.vpc_base import add_vpc


class RdsVpc(Construct):
    """A VPC with one subnet per AZ and a DB subnet group over them.

    Private by default: no internet gateway, one route table (the peering adds its route).
    With `public_subnets=True` (the original design's layout) the subnets route to an
    internet gateway; the instance itself is still created not publicly accessible.
    """

    vpc_id: str
    cidr_block: str  # as given: what the other side of a peering routes here
    route_table_ids: list[str]  # the subnets' (one) route table: what a peering adds its route to
    db_subnet_group_name: str  # for the database instance

    def __init__(
        self, scope: Construct, id: str, *, name: str, cidr_block: str, availability_zones: list[str],
        subnet_cidrs: list[str], public_subnets: bool, flow_log_retention_days: int,
    ) -> None:
        super().__init__(scope, id)
        self.cidr_block = cidr_block
        vpc = add_vpc(self, name=name, cidr_block=cidr_block, flow_log_retention_days=flow_log_retention_days)
        self.vpc_id = vpc.id

        kind = "public" if public_subnets else "private"
        rt = RouteTable(self, "rt", vpc_id=vpc.id, tags={"Name": f"{name}-{kind}"})
        if public_subnets:
            igw = InternetGateway(self, "igw", vpc_id=vpc.id, tags={"Name": name})
            Route(self, "default_route", route_table_id=rt.id, destination_cidr_block="0.0.0.0/0",
                  gateway_id=igw.id)
        subnets = []
        for i, (az, cidr) in enumerate(zip(availability_zones, subnet_cidrs, strict=True)):
            subnet = Subnet(self, f"subnet_{i}", vpc_id=vpc.id, cidr_block=cidr, availability_zone=az,
                            map_public_ip_on_launch=False, tags={"Name": f"{name}-{kind}-{az}"})
            RouteTableAssociation(self, f"subnet_{i}_rt", subnet_id=subnet.id, route_table_id=rt.id)
            subnets.append(subnet)
        group = DbSubnetGroup(self, "db_subnet_group", name=name, subnet_ids=[s.id for s in subnets],
                              description=f"Subnets of the Airflow metadata database ({kind})",
                              tags={"Name": name})

        self.route_table_ids = [rt.id]
        self.db_subnet_group_name = group.name
