"""EksVpc: the network of the EKS cluster."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.subnet import Subnet

from airflow_platform.constructs.vpc_base import add_vpc


class EksVpc(Construct):
    """A VPC for an EKS cluster across two or more AZs.

    - public subnets (one per AZ) for internet-facing load balancers and the NAT gateways,
      tagged `kubernetes.io/role/elb` so the AWS load balancer integration finds them;
    - private subnets (one per AZ) for nodes and pods, tagged `kubernetes.io/role/internal-elb`,
      egress through NAT: one per AZ when `nat_gateway_per_az` (no cross-AZ dependency), else one;
    - flow logs of all traffic, and the default security group stripped of every rule.
    """

    vpc_id: str
    cidr_block: str  # as given: what the other side of a peering routes here
    private_subnet_ids: list[str]  # one per AZ: the cluster's and the nodes' subnets
    private_route_table_ids: list[str]  # one per private subnet: what a peering adds its routes to

    def __init__(
        self, scope: Construct, id: str, *, name: str, cluster_name: str, cidr_block: str,
        availability_zones: list[str], public_subnet_cidrs: list[str], private_subnet_cidrs: list[str],
        nat_gateway_per_az: bool, flow_log_retention_days: int,
    ) -> None:
        super().__init__(scope, id)
        self.cidr_block = cidr_block
        vpc = add_vpc(self, name=name, cidr_block=cidr_block, flow_log_retention_days=flow_log_retention_days)
        self.vpc_id = vpc.id

        cluster_tag = {f"kubernetes.io/cluster/{cluster_name}": "shared"}
        igw = InternetGateway(self, "igw", vpc_id=vpc.id, tags={"Name": name})
        public_rt = RouteTable(self, "public_rt", vpc_id=vpc.id, tags={"Name": f"{name}-public"})
        Route(self, "public_default_route", route_table_id=public_rt.id,
              destination_cidr_block="0.0.0.0/0", gateway_id=igw.id)

        private, nats, private_rts = [], [], []
        for i, (az, public_cidr, private_cidr) in enumerate(
            zip(availability_zones, public_subnet_cidrs, private_subnet_cidrs, strict=True)
        ):
            pub = Subnet(self, f"public_{i}", vpc_id=vpc.id, cidr_block=public_cidr, availability_zone=az,
                         map_public_ip_on_launch=False,
                         tags={"Name": f"{name}-public-{az}", "kubernetes.io/role/elb": "1", **cluster_tag})
            RouteTableAssociation(self, f"public_{i}_rt", subnet_id=pub.id, route_table_id=public_rt.id)
            if nat_gateway_per_az or i == 0:
                eip = Eip(self, f"nat_eip_{i}", domain="vpc", tags={"Name": f"{name}-nat-{az}"})
                nats.append(NatGateway(self, f"nat_{i}", allocation_id=eip.allocation_id, subnet_id=pub.id,
                                       tags={"Name": f"{name}-{az}"}, depends_on=[igw]))

            priv = Subnet(self, f"private_{i}", vpc_id=vpc.id, cidr_block=private_cidr, availability_zone=az,
                          tags={"Name": f"{name}-private-{az}", "kubernetes.io/role/internal-elb": "1",
                                **cluster_tag})
            rt = RouteTable(self, f"private_rt_{i}", vpc_id=vpc.id, tags={"Name": f"{name}-private-{az}"})
            Route(self, f"private_{i}_default_route", route_table_id=rt.id,
                  destination_cidr_block="0.0.0.0/0", nat_gateway_id=nats[-1].id)
            RouteTableAssociation(self, f"private_{i}_rt", subnet_id=priv.id, route_table_id=rt.id)
            private.append(priv)
            private_rts.append(rt)

        self.private_subnet_ids = [s.id for s in private]
        self.private_route_table_ids = [rt.id for rt in private_rts]
