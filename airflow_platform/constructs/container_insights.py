"""ContainerInsights: every pod's logs to encrypted CloudWatch log groups, through the
`amazon-cloudwatch-observability` EKS add-on (Fluent Bit and the CloudWatch agent).

Why the log groups are Terraform's: the add-on's Fluent Bit outputs create their group when
it is missing (`auto_create_group true` in the chart's `containerLogs.fluentBit.config`,
aws-observability/helm-charts, amazon-cloudwatch-observability 6.2.0, values.yaml), and a
group CloudWatch Logs creates that way has no KMS key and never expires. So the groups are
made here first, with the key and the retention, the add-on's own Fluent Bit configuration
is replaced by `FLUENT_BIT_FILES` (every output `auto_create_group false`), and its role
may not create groups at all.
"""

from __future__ import annotations

import json

from cdktf import ITerraformDependable
from constructs import Construct

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.eks_addon import EksAddon

from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.irsa_role import ClusterOidc, IrsaRole
from airflow_platform.constructs.kms import EncryptionKey

ADDON_NAME = "amazon-cloudwatch-observability"
# The add-on runs Fluent Bit and the agent under this service account (the chart's
# fluent-bit DaemonSet: `serviceAccountName: cloudwatch-agent`; EKS User Guide,
# "Amazon CloudWatch Observability agent": `--name cloudwatch-agent --namespace amazon-cloudwatch`).
SERVICE_ACCOUNT = "amazon-cloudwatch:cloudwatch-agent"
# The groups Container Insights writes (CloudWatch User Guide, "Set up Fluent Bit as a
# DaemonSet to send logs to CloudWatch Logs": application, host, dataplane; the agent's
# performance log events go to .../performance).
LOG_GROUP_KINDS = ("application", "dataplane", "host", "performance")


def log_group_name(cluster_name: str, kind: str) -> str:
    return f"/aws/containerinsights/{cluster_name}/{kind}"


def _output(kind: str) -> str:
    # `$${...}` is Fluent Bit's environment variable, which the DaemonSet sets; `$$` keeps
    # Terraform from reading it as an interpolation (it writes `${...}`).
    return f"""
[OUTPUT]
    Name                cloudwatch_logs
    Match               {kind}.*
    region              $${{AWS_REGION}}
    log_group_name      /aws/containerinsights/$${{CLUSTER_NAME}}/{kind}
    log_stream_prefix   $${{HOST_NAME}}-
    auto_create_group   false
    extra_user_agent    container-insights
"""


def _tail_input(tag: str, path: str, db: str, exclude: str | None = None) -> str:
    """A tail input of container log files, as the add-on's default configuration reads them."""
    exclude_line = f"    Exclude_Path        {exclude}\n" if exclude else ""
    return f"""
[INPUT]
    Name                tail
    Tag                 {tag}
    Path                {path}
{exclude_line}    multiline.parser    docker, cri
    DB                  /var/fluent-bit/state/{db}
    Mem_Buf_Limit       50MB
    Skip_Long_Lines     On
    Refresh_Interval    10
    Rotate_Wait         30
    storage.type        filesystem
    Read_from_Head      $${{READ_FROM_HEAD}}
"""


# The Fluent Bit files this platform ships (the chart @INCLUDEs each extraFiles key; Helm
# merges maps, so every file of the default is given, or its default would stay).
# - application: every container log on the node except the add-on's own and the
#   node's networking DaemonSets, which go to dataplane.
# - dataplane: aws-node and kube-proxy. The default's systemd inputs (kubelet, containerd)
#   and the host file's journal inputs are left out: on AL2023 nodes (this platform's AMI)
#   "dataplane and host logs vended by Container Insights will not be available by default"
#   (CloudWatch User Guide, "Quick start with the Amazon CloudWatch Observability EKS add-on").
FLUENT_BIT_FILES = {
    "application-log.conf": _tail_input(
        "application.*", "/var/log/containers/*.log", "flb_container.db",
        exclude="/var/log/containers/cloudwatch-agent*, /var/log/containers/fluent-bit*, "
                "/var/log/containers/aws-node*, /var/log/containers/kube-proxy*") + """
[FILTER]
    Name                kubernetes
    Match               application.*
    Kube_URL            https://kubernetes.default.svc:443
    Kube_Tag_Prefix     application.var.log.containers.
    Merge_Log           On
    Merge_Log_Key       log_processed
    K8S-Logging.Parser  On
    K8S-Logging.Exclude Off
    Labels              Off
    Annotations         Off
    Use_Kubelet         On
    Kubelet_Port        10250
    Buffer_Size         0
""" + _output("application"),
    "dataplane-log.conf": _tail_input(
        "dataplane.tail.*", "/var/log/containers/aws-node*, /var/log/containers/kube-proxy*",
        "flb_dataplane_tail.db") + _output("dataplane"),
    "host-log.conf": "",
}


def addon_configuration() -> str:
    """The add-on's `configuration_values`: Container Insights on, logs through FLUENT_BIT_FILES."""
    return json.dumps({"containerLogs": {"enabled": True, "fluentBit": {"config": {"extraFiles": FLUENT_BIT_FILES}}}},
                      sort_keys=True)


def writer_statements(log_group_arns: list[str]) -> list[dict]:
    """Write events and streams to these groups only: no CreateLogGroup, no retention change."""
    return [
        {"Sid": "WriteTheseLogGroups", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
         "Resource": [f"{arn}:*" for arn in log_group_arns]},
        # The agent reads instance tags and volumes to label its metrics (what
        # CloudWatchAgentServerPolicy grants it); these Describe calls take no resource.
        {"Sid": "DescribeTheNode", "Effect": "Allow", "Action": ["ec2:DescribeTags", "ec2:DescribeVolumes"],
         "Resource": "*"},
    ]


class ContainerInsights(Construct):
    """The `amazon-cloudwatch-observability` add-on on `cluster_name`, writing to
    `/aws/containerinsights/<cluster>/{application,dataplane,host,performance}`: groups made
    here, each with `retention_days` and this construct's KMS key (usable by CloudWatch Logs
    for these groups only). The add-on's role (IRSA, `amazon-cloudwatch:cloudwatch-agent`) may
    write to them and nowhere else. The add-on waits for `after` (the node group: its
    DaemonSets need nodes, or the add-on never becomes active)."""

    log_group_names: list[str]
    key_arn: str

    def __init__(self, scope: Construct, id: str, *, cluster_name: str, oidc: ClusterOidc, retention_days: int,
                 addon_version: str, after: list[ITerraformDependable]) -> None:
        super().__init__(scope, id)
        account = AwsAccount.of(self)
        names = [log_group_name(cluster_name, kind) for kind in LOG_GROUP_KINDS]
        key = EncryptionKey(self, "key", alias=f"{cluster_name}-container-logs",
                            description=f"Container logs of {cluster_name}", cloudwatch_log_groups=tuple(names))
        groups = [CloudwatchLogGroup(self, f"{kind}_logs", name=name, retention_in_days=retention_days,
                                     kms_key_id=key.arn)
                  for kind, name in zip(LOG_GROUP_KINDS, names)]
        role = IrsaRole(self, "role", name=f"{cluster_name}-cloudwatch-agent", oidc=oidc,
                        service_accounts=[SERVICE_ACCOUNT],
                        statements=tuple(writer_statements([account.arn("logs", f"log-group:{n}") for n in names])))
        EksAddon(
            self, "addon", cluster_name=cluster_name, addon_name=ADDON_NAME, addon_version=addon_version,
            service_account_role_arn=role.arn, configuration_values=addon_configuration(),
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            # The groups exist, with key and retention, before anything can write to them.
            depends_on=[*groups, *role.attachments, *after],
        )
        self.log_group_names = names
        self.key_arn = key.arn
