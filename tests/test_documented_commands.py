"""Every command README.md and docs/ give works as written, from a plain shell.

A reader copies a command into a shell that has none of the Makefile's PATH (no `.tools/bin`
with pipenv, no `node_modules/.bin`). `npx cdktf ...` and the snapshot-update command used
to fail there with `pipenv: not found` (cdktf.json's app was `pipenv run python main.py`).

The commands are found where a reader finds them: shell blocks and inline code of README.md
and docs/*.md. Each is either run here, offline, in a copy of the repository, or listed in
NOT_RUN with the reason (an AWS account, or the suite itself); a command in neither fails
`test_every_documented_command_is_run_or_says_why_not`, so a new one cannot slip by.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from paths import REPO

DOCS = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"`([^`]+)`")
# A command line: optional VAR=value assignments, then one of the project's entry points.
COMMAND = re.compile(r"^(?:[A-Z][A-Z0-9_]*=\S+\s+)*(?:make(?:\s+[\w-]+)?|npx cdktf|\.venv/bin/python|python3? -m)(?:\s|$)")

# Not run here, each with why. Regular expressions over the whole command.
NOT_RUN = {
    r"(?:\w+=\S+ )*make (?:plan|deploy|destroy|migrate-state|rotate-db-password)":
        "needs AWS credentials; tests/test_state_guard.py checks each runs the state guard first",
    r"(?:\w+=\S+ )*npx cdktf (?:deploy|destroy|diff|output)\b.*":
        "needs AWS credentials; tests/test_cdktf_commands.py runs every deploy/destroy through the real cdktf CLI",
    r"make test(?:-fast)?": "the suite itself (.ci/run runs `make test`)",
    r"make setup": "`make test` runs it first (.ci/run)",
    r"(?:\w+=\S+ )*make rehearse|\.venv/bin/python -m tools\.emulator\.rehearse.*":
        "tests/test_emulator.py runs the same phases against moto (minutes)",
    r"make rehearse-apps": "tests/test_rehearse_apps.py runs the same rehearsal (minutes)",
    r"make bench": "a benchmark of several synthesis runs (minutes); scripts/bench_synth.py prints figures, "
                   "it asserts nothing",
    r"\.venv/bin/python -m tools\.costs": "tests/test_costs.py computes the same table (tools.costs.markdown_table) "
                                         "from the session's synthesis and finds it in docs/costs.md",
    r"\.venv/bin/python -m tools\.previous_airflow --regenerate": "tests/test_previous_airflow.py checks the committed "
                                                               "constraints are what it writes (it reads git history)",
    r"\.venv/bin/python -m pytest -q tests/test_team_image\.py": "the suite runs tests/test_team_image.py",
    r"\.venv/bin/python -m pytest tests/workflows -q": "the suite runs tests/workflows",
    r"\.venv/bin/python main\.py": "cdktf.json's app: `npx cdktf synth` below runs it",
}

SYNTH_OUTPUT = ("cdktf.out/stacks/infra/cdk.tf.json", "cdktf.out/stacks/apps/cdk.tf.json",
                "cdktf.out/stacks/bootstrap/cdk.tf.json")
SNAPSHOTS = "tests/__snapshots__"
# Run here, each with what it must leave behind.
RUN = {
    "make synth": SYNTH_OUTPUT,
    "npx cdktf synth": SYNTH_OUTPUT,
    "AIRFLOW_PLATFORM_PROFILE=prod AIRFLOW_PLATFORM_STATE_BUCKET=my-tf-state make synth": SYNTH_OUTPUT,
    ".venv/bin/python -m pytest tests/test_snapshots.py --snapshot-update": (),
    ".venv/bin/python -m airflow_platform.observability.dashboard > airflow.json": ("airflow.json",),
}


def documented_commands() -> dict[str, list[str]]:
    """Each command (whitespace normalised, comments cut) -> the files that give it."""
    found: dict[str, list[str]] = {}

    def add(command: str, where: str) -> None:
        command = " ".join(command.split(" #")[0].split())
        if COMMAND.match(command) and where not in found.setdefault(command, []):
            found[command].append(where)

    for name in DOCS:
        text = (REPO / name).read_text()
        for fence in FENCE.finditer(text):
            if fence.group(1) in ("bash", "sh", "shell", "console"):
                for line in fence.group(2).replace("\\\n", " ").splitlines():
                    add(line, name)
        prose = FENCE.sub("", text)
        for span in INLINE.finditer(prose):
            add(span.group(1), name)
    return found


def test_commands_are_found_where_they_live():
    commands = documented_commands()
    assert "README.md" in commands["make synth"] and "README.md" in commands["make test"]
    assert "README.md" in commands[".venv/bin/python -m pytest tests/test_snapshots.py --snapshot-update"]
    assert "docs/ci-cd.md" in commands["AIRFLOW_PLATFORM_PROFILE=dev npx cdktf deploy bootstrap"]
    assert not any(c.startswith("pipenv") for c in commands), "a plain shell has no pipenv"


def test_every_documented_command_is_run_or_says_why_not():
    unclassified = {command: where for command, where in documented_commands().items()
                    if command not in RUN and not any(re.fullmatch(p, command) for p in NOT_RUN)}
    assert not unclassified, ("add each to RUN (it runs offline) or NOT_RUN (with why) in "
                              f"tests/test_documented_commands.py: {unclassified}")
    stale = [c for c in RUN if c not in documented_commands()]
    assert not stale, f"RUN lists commands no doc gives any more: {stale}"


def plain_shell_environment() -> dict[str, str]:
    """What a reader's shell has: the system PATH with node and terraform, nothing of ours."""
    tools = {str(Path(shutil.which(t)).parent) for t in ("node", "npx", "terraform", "make") if shutil.which(t)}
    keep = {k: v for k, v in os.environ.items()
            if k in ("HOME", "LANG", "LC_ALL", "TMPDIR", "TF_PROVIDER_MIRROR", "CHART_ARCHIVE_DIR",
                     "REQUIRE_CHART_SCHEMA", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION")}
    path = [*sorted(tools), "/usr/local/bin", "/usr/bin", "/bin"]
    assert not any(p.endswith((".tools/bin", "node_modules/.bin")) for p in path)
    return keep | {"PATH": os.pathsep.join(path), "CHECKPOINT_DISABLE": "1"}


# make's stamps of a finished setup (Makefile): with them older than the copied lock files,
# make would set up again, and `npm ci` through the linked node_modules would empty the
# repository's own.
SETUP_STAMPS = (".venv/.runtime", ".venv/.deploy", "node_modules/.synced")
LONG_AGO = 946684800  # 2000-01-01: older than any stamp


def copy_of_the_repository(dest: Path) -> Path:
    """The tracked files, dated long ago so make sees the setup as done, and links to the
    set-up environments; the commands write only into the copy."""
    missing = [stamp for stamp in SETUP_STAMPS if not (REPO / stamp).exists()]
    if missing:
        pytest.fail(f"run `make setup` first (missing {missing}): the documented commands run in the "
                    "set-up environments", pytrace=False)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    for name in filter(None, files.stdout.split("\0")):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
            os.utime(dest / name, (LONG_AGO, LONG_AGO))
    for name in (".venv", "node_modules", ".tools"):
        (dest / name).symlink_to(REPO / name)
    return dest


@pytest.mark.documented_commands
@pytest.mark.parametrize("command", sorted(RUN))
def test_the_command_works_as_written_from_a_plain_shell(command, tmp_path):
    work = copy_of_the_repository(tmp_path / "clone")
    result = subprocess.run(["bash", "-c", command], cwd=work, env=plain_shell_environment(),
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    for output in RUN[command]:
        assert (work / output).is_file(), f"{command} did not write {output}"
    if "--snapshot-update" in command:  # the snapshots were current: the update rewrote nothing
        for snapshot in (REPO / SNAPSHOTS).rglob("*.json"):
            copied = work / snapshot.relative_to(REPO)
            assert copied.read_text() == snapshot.read_text(), f"{snapshot.name} changed: run {command}"
