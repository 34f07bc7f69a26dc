"""What crosses from the infra stack to the apps stack: plain values, named and typed."""

from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Mapping

from airflow_platform.generated_secrets import output_name


@dataclass(frozen=True)
class InfraOutputs:
    """The infra stack's outputs. Each is also a Terraform output of the same name (the
    generated secrets' ARNs as `<name>_secret_arn`, the roles as `airflow_<component>_role_arn`), for the apps stack and for people."""

    cluster_name: str
    db_instance_id: str  # the instance the platform uses: the apps stack snapshots it before an upgrade
    db_address: str
    db_port: str
    db_name: str
    db_username: str
    db_secret_arn: str  # the RDS-managed master secret: only the role bootstrap Job reads it
    airflow_role_arns: Mapping[str, str]  # chart component -> its IRSA role (AirflowRoles); absent: no role
    logs_bucket_name: str
    cluster_autoscaler_role_arn: str
    db_bootstrap_role_arn: str
    generated_secret_arns: Mapping[str, str]  # by secret name (secret_store.GENERATED)

    def __post_init__(self) -> None:
        for name in ("generated_secret_arns", "airflow_role_arns"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def terraform_outputs(self) -> dict[str, str]:
        plain = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.name not in ("generated_secret_arns", "airflow_role_arns")}
        roles = {f"airflow_{c.replace('-', '_')}_role_arn": arn for c, arn in self.airflow_role_arns.items()}
        return plain | roles | {output_name(name): arn for name, arn in self.generated_secret_arns.items()}
