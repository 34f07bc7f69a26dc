"""What every VPC of this platform starts with, shared by EksVpc and RdsVpc."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.vpc import Vpc

from airflow_platform.constructs.vpc_flow_logs import VpcFlowLogs


def add_vpc(scope: Construct, *, name: str, cidr_block: str, flow_log_retention_days: int) -> Vpc:
    """A VPC with DNS support and hostnames, its default security group stripped of every
    rule (nothing can use it by accident), and flow logs of all traffic.

    Created directly in `scope` (ids `vpc`, `default_security_group`, `flow_logs`), so the
    calling construct owns them.
    """
    vpc = Vpc(scope, "vpc", cidr_block=cidr_block, enable_dns_support=True, enable_dns_hostnames=True,
              tags={"Name": name})
    DefaultSecurityGroup(scope, "default_security_group", vpc_id=vpc.id, ingress=[], egress=[],
                         tags={"Name": f"{name}-default-unused"})
    VpcFlowLogs(scope, "flow_logs", name=name, vpc_id=vpc.id, retention_days=flow_log_retention_days)
    return vpc
