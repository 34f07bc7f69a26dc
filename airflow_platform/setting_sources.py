"""Where settings come from, highest priority first: AIRFLOW_PLATFORM_* environment variables,
the `context` of cdktf.json, and the profile table for the settings a profile sizes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, get_origin

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

from airflow_platform.profiles import PROFILE_SIZED_SETTINGS, PROFILES

ENV_PREFIX = "AIRFLOW_PLATFORM_"
CDKTF_JSON = Path(__file__).resolve().parent.parent / "cdktf.json"


def read_context(path: Path = CDKTF_JSON) -> dict[str, Any]:
    return json.loads(path.read_text())["context"]


# Lists of JSON objects: their environment variable holds a JSON list (commas are inside them).
JSON_SETTINGS = ("airflow_task_policy_statements",)


def _json_list(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value  # not JSON: the model refuses it as not a list


class EnvironmentSource(EnvSettingsSource):
    """AIRFLOW_PLATFORM_* variables of `environ`. Lists are comma-separated (JSON for JSON_SETTINGS); a variable that
    names no setting is passed on under its own name, so the model refuses it."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self.variables = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self.variables.items()}

    def prepare_field_value(self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool) -> Any:
        if isinstance(value, str) and get_origin(field.annotation) is tuple and field_name in JSON_SETTINGS:
            return _json_list(value)
        if isinstance(value, str) and get_origin(field.annotation) is tuple:
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return super().prepare_field_value(field_name, field, value, value_is_complex)

    def __call__(self) -> dict[str, Any]:
        unknown = {k: v for k, v in self.variables.items() if k[len(ENV_PREFIX):].lower() not in self.settings_cls.model_fields}
        return {**super().__call__(), **unknown}


class ContextSource(PydanticBaseSettingsSource):
    """The `context` of cdktf.json: the documented defaults."""

    def __init__(self, settings_cls: type[BaseSettings], context: Mapping[str, Any]):
        super().__init__(settings_cls)
        self.context = dict(context)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.context.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.context


class ProfileDefaultsSource(PydanticBaseSettingsSource):
    """The defaults of the settings a profile sizes, from the profile the sources above chose."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        profile = self.current_state.get("profile")
        # An unknown profile: validation names it; any table fills the gap.
        table = PROFILES.get(profile.strip() if isinstance(profile, str) else "") or next(iter(PROFILES.values()))
        return {name: getattr(table, name) for name in PROFILE_SIZED_SETTINGS}
