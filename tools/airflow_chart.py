"""The official Airflow chart's `values.yaml` and `values.schema.json`, for offline checks.

Looked for, in order: `AIRFLOW_CHART_DIR/<version>/`, `../shared/airflow-chart/<version>/`
beside the repository, a cache in `~/.cache/airflow-platform/airflow-chart/<version>/`,
and finally the chart repository (the files are extracted from the chart archive into
the cache). `ChartUnavailable` says why none worked.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CHART_REPOSITORY = "https://airflow.apache.org"
FILES = ("values.yaml", "values.schema.json")


class ChartUnavailable(RuntimeError):
    pass


def candidate_dirs(version: str) -> list[Path]:
    dirs = []
    if os.environ.get("AIRFLOW_CHART_DIR"):
        dirs.append(Path(os.environ["AIRFLOW_CHART_DIR"]) / version)
    dirs.append(REPO.parent / "shared" / "airflow-chart" / version)
    dirs.append(cache_dir(version))
    return dirs


def cache_dir(version: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "airflow-platform" / "airflow-chart" / version


def chart_dir(version: str, *, download: bool = True, timeout: float = 20) -> Path:
    for directory in candidate_dirs(version):
        if all((directory / f).is_file() for f in FILES):
            return directory
    if not download:
        raise ChartUnavailable(f"chart {version} not found in {', '.join(map(str, candidate_dirs(version)))}")
    try:
        return _download(version, timeout)
    except Exception as err:  # no network, no such version, unexpected archive
        raise ChartUnavailable(f"chart {version} is not on disk and could not be downloaded: {err}") from err


def _download(version: str, timeout: float) -> Path:
    with urllib.request.urlopen(f"{CHART_REPOSITORY}/index.yaml", timeout=timeout) as response:
        index = yaml.safe_load(response.read())
    entry = next(e for e in index["entries"]["airflow"] if e["version"] == version)
    url = entry["urls"][0]
    with urllib.request.urlopen(url if "://" in url else f"{CHART_REPOSITORY}/{url}", timeout=timeout) as response:
        archive = tarfile.open(fileobj=io.BytesIO(response.read()), mode="r:gz")
    target = cache_dir(version)
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        member = archive.extractfile(f"airflow/{name}")
        (target / name).write_bytes(member.read())
    return target


def defaults(version: str) -> dict:
    return yaml.safe_load((chart_dir(version) / "values.yaml").read_text())


def schema(version: str) -> dict:
    return json.loads((chart_dir(version) / "values.schema.json").read_text())


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
