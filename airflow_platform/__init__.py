"""Apache Airflow on EKS with an RDS metadata database in a peered VPC, in CDKTF."""

from airflow_platform import lazy_providers

# Before any module of this package imports a provider class: see lazy_providers.py.
lazy_providers.install()
