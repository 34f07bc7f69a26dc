"""The official Airflow chart's default `values.yaml` and `values.schema.json`, for offline
checks, read from the same packaged chart the render uses (`chart_render.chart_archive`:
on disk, in `../shared/`, in the download cache, or pulled with helm)."""

from __future__ import annotations

import json
import tarfile
from functools import cache

import yaml

from tools.chart_render import ChartUnavailable, chart_archive

CHART_REPOSITORY = "https://airflow.apache.org"

__all__ = ["ChartUnavailable", "defaults", "merge_values", "schema"]


@cache
def _chart_file(version: str, name: str) -> str:
    archive = chart_archive("airflow", version, CHART_REPOSITORY)
    with tarfile.open(archive) as chart:
        return chart.extractfile(f"airflow/{name}").read().decode()


def defaults(version: str) -> dict:
    return yaml.safe_load(_chart_file(version, "values.yaml"))


def schema(version: str) -> dict:
    return json.loads(_chart_file(version, "values.schema.json"))


def merge_values(base: dict, override: dict) -> dict:
    """Helm's merge of a values file over another: maps merge, anything else replaces, null deletes."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged
