"""VpcPeering: the EKS VPC and the RDS VPC peered, with DNS resolution and routes both ways."""

from __future__ import annotations

from cdktf import ITerraformDependable
from constructs import Construct

from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.vpc_peering_connection import VpcPeeringConnection
from cdktf_cdktf_provider_aws.vpc_peering_connection_options import (
    VpcPeeringConnectionOptions, VpcPeeringConnectionOptionsAccepter, VpcPeeringConnectionOptionsRequester,
)

from airflow_platform.constructs.eks_vpc import EksVpc
from airflow_platform.constructs.rds_vpc import RdsVpc


class VpcPeering(Construct):
    """`eks_vpc` peered with `rds_vpc` (same account and region, auto-accepted).

    - DNS resolution across the peering both ways (`aws_vpc_peering_connection_options`), so
      nodes resolve the database's endpoint to its private address;
    - a route to the RDS VPC in every private EKS route table, and one to the EKS VPC in
      every RDS route table, through the peering.
    """

    active: list[ITerraformDependable]  # the connection and its options: depend on these to use the peering

    def __init__(self, scope: Construct, id: str, *, name: str, eks_vpc: EksVpc, rds_vpc: RdsVpc) -> None:
        super().__init__(scope, id)
        connection = VpcPeeringConnection(self, "connection", vpc_id=eks_vpc.vpc_id, peer_vpc_id=rds_vpc.vpc_id,
                                          auto_accept=True, tags={"Name": f"{name}-eks-to-rds"})
        dns = VpcPeeringConnectionOptions(
            self, "dns", vpc_peering_connection_id=connection.id,
            requester=VpcPeeringConnectionOptionsRequester(allow_remote_vpc_dns_resolution=True),
            accepter=VpcPeeringConnectionOptionsAccepter(allow_remote_vpc_dns_resolution=True),
        )
        for side, route_table_ids, destination in (
            ("eks", eks_vpc.private_route_table_ids, rds_vpc.cidr_block),
            ("rds", rds_vpc.route_table_ids, eks_vpc.cidr_block),
        ):
            for i, route_table_id in enumerate(route_table_ids):
                Route(self, f"{side}_route_{i}", route_table_id=route_table_id,
                      destination_cidr_block=destination, vpc_peering_connection_id=connection.id)
        self.active = [connection, dns]
