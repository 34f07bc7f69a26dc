"""Offline security scans of the synthesized stacks: checkov (isolated venv) and detect-secrets."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CHECKOV = REPO / "tools" / "security" / ".venv" / "bin" / "checkov"
SKIPS_FILE = REPO / "security" / "checkov_skips.yaml"
# Lines cdktf generates that name things and hold no value: its cross-stack outputs are
# named after the expression they carry (`...master_user_secret0secret_arn`), and its
# `//` metadata maps each output's name to the same name (db_secret_arn to db_secret_arn).
GENERATED_NAME_LINES = [r".*(cross-stack-output-|cross-stack-reference-input-).*", r'^\s*"([\w-]+)": "\1",?$']


def checkov_skips(profile: str) -> dict[str, str]:
    """check id -> reason, for the skips that apply to `profile`."""
    skips = yaml.safe_load(SKIPS_FILE.read_text())
    return {check: s["reason"] for check, s in skips.items() if profile in s.get("profiles", [profile])}


def offline_prefix() -> list[str]:
    """`unshare -rn` (a network namespace with no network) where the kernel allows it."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn"]
    return []


def checkov_input(stack: dict) -> dict:
    """`stack` as checkov reads it: without its `moved` blocks. checkov 3.3's terraform_json
    parser fails on that list-valued block and then checks nothing in the file; a moved
    block holds two addresses and no configuration, so nothing to check is lost."""
    return {key: value for key, value in stack.items() if key != "moved"}


def run_checkov(directory: Path, framework: str, skip_checks: list[str]) -> dict:
    """checkov's JSON report for every file below `directory`; no call leaves the machine."""
    if not CHECKOV.exists():
        raise FileNotFoundError(f"{CHECKOV} is missing: run `make setup`")
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false", LOG_LEVEL="WARNING")
    env.pop("BC_API_KEY", None)
    command = [*offline_prefix(), str(CHECKOV), "--directory", str(directory), "--framework", framework,
               "--output", "json", "--skip-download", "--quiet", "--compact"]
    if skip_checks:
        command += ["--skip-check", ",".join(skip_checks)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed ({result.returncode}):\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    reports = report if isinstance(report, list) else [report]
    # A file checkov cannot parse is skipped with a log line and counts as nothing failed: refuse that.
    if any(r.get("summary", {}).get("parsing_errors") for r in reports):
        raise RuntimeError(f"checkov could not parse a file below {directory}:\n{result.stderr[-3000:]}")
    return {
        "passed": sum(r.get("summary", {}).get("passed", 0) for r in reports),
        "failed": [c for r in reports for c in r.get("results", {}).get("failed_checks", [])],
        "skipped": [c for r in reports for c in r.get("results", {}).get("skipped_checks", [])],
    }


def detect_secrets(paths: list[Path]) -> list[dict]:
    """Findings of detect-secrets' default plugins in `paths`, less cdktf's generated names."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings, transient_settings

    with default_settings() as defaults:
        config = defaults.json()
    config["filters_used"].append(
        {"path": "detect_secrets.filters.regex.should_exclude_line", "pattern": GENERATED_NAME_LINES})
    collection = SecretsCollection()
    with transient_settings(config):
        for path in paths:
            collection.scan_file(str(path))
    return [{"file": f, "type": s.type, "line": s.line_number} for f, secrets in collection.data.items()
            for s in secrets]


def tracked_files() -> list[Path]:
    """The files git tracks (and untracked ones it does not ignore): what a clone holds."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [REPO / line for line in out.splitlines() if (REPO / line).is_file()]


LITERAL_SECRET_KEY = re.compile(r"(password|passwd|secret|token|fernet|private_key|access_key)", re.I)
