"""
### Example: EmptyOperator then BashOperator

The minimal sample DAG of the original design: a no-op `start` marker followed by a
shell step. It only exists to prove that the deployment (image, DAG sync, scheduler,
workers) works end to end; it has no side effects beyond one line of task log.

Trigger it manually; it has no schedule.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(
    dag_id="example_empty_then_bash",
    description="EmptyOperator followed by a BashOperator (deployment smoke test).",
    doc_md=__doc__,
    # Manual only: a smoke test should not create runs nobody looks at.
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=10),
    default_args={
        "owner": "data-platform",
        "retries": 1,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": timedelta(minutes=2),
    },
    tags=["example", "smoke-test"],
) as dag:
    start = EmptyOperator(task_id="start")

    say_hello = BashOperator(
        task_id="say_hello",
        # run_id is always set, whereas {{ ds }} is undefined for runs triggered without
        # a logical date (allowed in Airflow 3) and would fail template rendering.
        bash_command='echo "Hello from Airflow, run_id={{ run_id }}"',
    )

    start >> say_hello
