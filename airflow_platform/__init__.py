"""Apache Airflow on EKS with an RDS metadata database in a peered VPC, in CDKTF."""
