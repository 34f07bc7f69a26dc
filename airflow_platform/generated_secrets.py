"""The generated Airflow secrets: their names and lengths, as plain data.

Apart from AirflowSecretStore (constructs/secret_store.py), which creates them, so that what
only needs a name (the rotation script) does not import the AWS provider package (~15 s).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Generated:
    """One generated secret: its name under `<prefix>/airflow/`, and the random length."""

    name: str
    length: int
    what: str
    fernet: bool = False  # stored as a Fernet key: the 32 random characters, url-safe base64


GENERATED = (
    Generated("fernet-key", 32, "Fernet key: encrypts connections and variables in the database", fernet=True),
    Generated("api-secret-key", 64, "API server secret key: signs session cookies"),
    Generated("jwt-secret", 64, "JWT secret: signs tokens between Airflow components"),
    Generated("redis-password", 48, "Redis (Celery broker) password"),
    Generated("admin-password", 32, "password of the initial Airflow admin user"),
    Generated("db-password", 32, "password of Airflow's own PostgreSQL role"),
)


def secret_name(prefix: str, name: str) -> str:
    return f"{prefix}/airflow/{name}"


def output_name(name: str) -> str:
    """The infra output holding the ARN of the generated secret `name`."""
    return f"{name.replace('-', '_')}_secret_arn"
