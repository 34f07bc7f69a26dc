"""Step 1 of the settings pipeline: merge where settings come from into one raw mapping.

Each layer overrides the one before: the profile table (for the settings a profile sizes),
then the `context` of cdktf.json, then AIRFLOW_PLATFORM_* environment variables (lists
comma-separated). A key that names no setting is a problem here, before any validation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from airflow_platform.profiles import PROFILE_SIZED_SETTINGS, PROFILES

ENV_PREFIX = "AIRFLOW_PLATFORM_"
CDKTF_JSON = Path(__file__).resolve().parent.parent / "cdktf.json"


def read_context(path: Path = CDKTF_JSON) -> dict[str, Any]:
    return json.loads(path.read_text())["context"]


@dataclass
class MergedInput:
    """The merged raw values, where each came from, and the keys that name no setting."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # setting -> "cdktf.json", the variable, "profile"
    problems: list[tuple[str, str]] = field(default_factory=list)  # (rule, problem)
    texts: dict[str, str] = field(default_factory=dict)  # setting -> its variable's text, as written


# Lists of JSON objects: their environment variable holds a JSON list (commas are inside them).
JSON_SETTINGS = ("airflow_task_policy_statements",)


def environment_value(name: str, raw: str, is_list: bool) -> Any:
    """A variable's text as the setting takes it: lists comma-separated (a JSON list for
    JSON_SETTINGS); the rest as text, which validation reads as a number or a boolean where the
    setting is one."""
    if name in JSON_SETTINGS:
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # not JSON: validation refuses it as not a list
    return tuple(item.strip() for item in raw.split(",") if item.strip()) if is_list else raw


def merge(context: Mapping[str, Any], environ: Mapping[str, str], settings: Mapping[str, bool]) -> MergedInput:
    """`settings` maps each setting's name to whether it is a list."""
    merged = MergedInput()
    for name, value in context.items():
        if name in settings:
            merged.values[name], merged.sources[name] = value, name
        else:
            merged.problems.append(("unknown_context",
                                    f"{name}: unknown setting in cdktf.json context; known settings: "
                                    "see docs/settings.md"))
    for variable, raw in environ.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        name = variable[len(ENV_PREFIX):].lower()
        if name in settings:
            merged.values[name], merged.sources[name] = environment_value(name, raw, settings[name]), variable
            merged.texts[name] = raw
        else:
            merged.problems.append(("unknown_env", f"{variable}: unknown setting (environment variable)"))
    # The profile the layers above chose sizes the rest; an unknown one is named by validation.
    profile = merged.values.get("profile")
    table = PROFILES.get(profile.strip() if isinstance(profile, str) else "") or next(iter(PROFILES.values()))
    for name in PROFILE_SIZED_SETTINGS:
        if name not in merged.values:
            merged.values[name], merged.sources[name] = getattr(table, name), "profile"
    return merged
