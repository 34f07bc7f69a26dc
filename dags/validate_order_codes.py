"""
### Validate order codes (a package from requirements.txt)

Checks the product codes (EAN-13) and the sellers' VAT numbers of a batch of orders with
[python-stdnum](https://pypi.org/project/python-stdnum/), a package the official
`apache/airflow` image does not carry: it is in `requirements.txt`, so it reaches the pods
through the team's image (`Dockerfile`, docs/pipelines.md). Without that image this file
fails to import, and the DAG shows up as an import error instead of a DAG.

One task, no side effects: it fails when a valid code is rejected or an invalid one accepted.
Trigger it manually; it has no schedule.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task
from stdnum import ean
from stdnum.eu import vat

DAG_ID = "validate_order_codes"

# (product EAN-13, seller VAT number, whether both are valid): a fixed batch, so a run is deterministic.
ORDERS = [
    ("4006381333931", "DE136695976", True),
    ("5901234123457", "NL004495445B01", True),
    ("4006381333932", "DE136695976", False),  # EAN check digit off by one
    ("5901234123457", "DE136695970", False),  # VAT check digit wrong  # pragma: allowlist secret
]


def validate(orders: list[tuple[str, str, bool]]) -> dict[str, int]:
    """Counts of valid and invalid orders; raises ValueError when stdnum disagrees with the expectation."""
    counts = {"valid": 0, "invalid": 0}
    for product, seller, expected in orders:
        valid = ean.is_valid(product) and vat.is_valid(seller)
        if valid != expected:
            raise ValueError(f"order ({product}, {seller}): valid={valid}, expected {expected}")
        counts["valid" if valid else "invalid"] += 1
    return counts


@dag(
    dag_id=DAG_ID,
    description="Validates product EANs and seller VAT numbers with python-stdnum (requirements.txt).",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=10),
    default_args={"owner": "data-platform", "retries": 0, "execution_timeout": timedelta(minutes=2)},
    tags=["example", "requirements"],
)
def validate_order_codes():
    @task
    def check_codes() -> dict[str, int]:
        return validate(ORDERS)

    check_codes()


validate_order_codes()
