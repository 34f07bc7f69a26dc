"""`make rehearse-apps`: run the apps stack the way the chart runs it, offline, on loopback.

1. Render the official chart with exactly the values the synthesized apps stack passes
   (dev profile), and fill every Secret the apps stack creates with test values, evaluating
   its Terraform expressions with real Terraform (`secret_values.py`).
   Install requirements.txt (the team's packages, which the image carries) into a cache
   folder on every Airflow process's PYTHONPATH, never into .venv (tools/team_requirements.py).
2. In a private network and mount namespace (`wiring.py`), map each rendered Service to
   loopback addresses and ports; start PostgreSQL with TLS required as the RDS endpoint and
   moto as S3 with the task-logs bucket (`servers.py`); start PgBouncer and Redis from their
   rendered pods, with the very config and password the Secrets hold (`components.py`,
   `pods.py`).
3. Run the rendered migrate-database and create-user jobs, then every Airflow component
   (API server, scheduler, dag-processor, triggerer, Celery worker) with its init containers,
   DAGs delivered as git-sync would.
4. Through the API server's Service: sign in as the created admin, trigger both DAGs and wait
   for success.
5. Rotate Airflow's database password twice, as `make rotate-db-password` does (`rotation.py`):
   the script stores a new version in moto, then the Job, the Secrets and the restarts run in
   the order the apps stack's dependencies give; the DAGs run again on the new password. The
   second time the Job cannot read the master secret (an injected failure): nothing after it
   runs, PgBouncer restarted from its Secret and Airflow keep working on the old password.
6. Measure a burst of runs, and check every task log landed in S3 (`traffic.py`).
7. Clean up on success, failure, Ctrl-C and SIGTERM, printing each phase (`phases.py`).

What the local servers lack compared with the chart's images is adapted in `adaptations.py`
only, and printed when applied.
"""
