"""Apache Airflow on EKS with an RDS metadata database in a peered VPC, in CDKTF."""

import os

from airflow_platform import lazy_providers

# Before any module of this package imports a provider class: see lazy_providers.py.
# CDKTF_EAGER_PROVIDER_IMPORT=1 imports the provider packages whole (to compare).
lazy_providers.install(eager=os.environ.get(lazy_providers.EAGER_SWITCH) == "1")
