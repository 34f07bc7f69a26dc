"""The committed settings, for tests (a module of its own: every conftest.py is named `conftest`)."""

from airflow_platform.settings import Settings, load_settings


def settings_without_env(**overrides) -> Settings:
    """The committed defaults (cdktf.json), ignoring the caller's AIRFLOW_PLATFORM_* variables."""
    env = {f"AIRFLOW_PLATFORM_{k.upper()}": v for k, v in overrides.items()}
    return load_settings(environ=env)
