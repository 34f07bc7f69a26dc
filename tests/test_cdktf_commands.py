"""Every cdktf deploy/destroy command the project runs or tells someone to run is accepted by
the real cdktf CLI, and runs Terraform in exactly the stacks it names.

The commands come from where they live: the Makefile's recipes, the workflows' `run:` steps,
the docs (`npx cdktf ...`), and the rotation script (tests/test_rotate_db_password.py runs
its command through the same check, tests/cdktf_check.py). They run against the real `manifest.json` of the
session's synthesis, with trivial stacks (tools/cdktf_offline.py): cdktf's own dependency
checks decide, not a list kept here.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from cdktf_check import check_command
from paths import REPO

pytestmark = pytest.mark.terraform

COMMAND = re.compile(r"^\s*(?:npx\s+)?cdktf\s+(?:deploy|destroy)\b")
INLINE = re.compile(r"`(npx cdktf (?:deploy|destroy)\b[^`]*)`")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
DOCS = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]


def make_variable(name: str, **environ: str) -> str:
    """A Makefile variable as make itself expands it (with `environ` as the environment)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"} | environ
    result = subprocess.run(["make", "-s", "--no-print-directory", "--eval", f"print-var: ; @echo '$({name})'",
                             "print-var"], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def makefile_commands() -> dict[str, str]:
    """`make <target>` -> the cdktf command of its recipe, its variables expanded as in CI."""
    found, target = {}, None
    for line in (REPO / "Makefile").read_text().splitlines():
        header = re.match(r"^([\w-]+):", line)
        if header:
            target = header.group(1)
        elif line.startswith("\t") and COMMAND.match(line):
            command = re.sub(r"\$\((\w+)\)", lambda m: make_variable(m.group(1), CI="true"), line.strip())
            found[f"make {target}"] = command
    return found


def test_make_deploy_asks_except_in_ci():
    """cdktf deploy without --auto-approve shows each stack's plan and asks before applying it;
    CI has nobody to ask (GitHub Actions sets CI=true)."""
    assert make_variable("DEPLOY_APPROVAL", CI="true") == "--auto-approve"
    assert make_variable("DEPLOY_APPROVAL") == make_variable("DEPLOY_APPROVAL", CI="false") == ""


def workflow_commands() -> dict[str, str]:
    """`<workflow>: <step>` -> each cdktf command of its `run:` (continuation lines joined)."""
    found = {}
    for path in sorted((REPO / ".github" / "workflows").glob("*.yml")):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                script = step.get("run", "").replace("\\\n", " ")
                for line in script.splitlines():
                    if COMMAND.match(line):
                        found[f"{path.name}: {' '.join(line.split())}"] = line.strip()
    return found


def doc_commands() -> dict[str, str]:
    """`<file>: <command>` for `npx cdktf deploy|destroy ...` in inline code and in shell blocks."""
    found = {}
    for name in DOCS:
        text = (REPO / name).read_text()
        commands = [m.group(1) for m in INLINE.finditer(text)]
        for fence in FENCE.finditer(text):
            if fence.group(1) in ("", "bash", "sh", "shell", "console"):
                commands += [line.split(" #")[0] for line in fence.group(2).splitlines() if COMMAND.match(line)
                             and line.lstrip().startswith("npx ")]
        for command in commands:
            found[f"{name}: {command.strip()}"] = command.strip()
    return found


def all_commands() -> dict[str, list[str]]:
    """Each distinct command (whitespace normalised) -> where it is written."""
    found: dict[str, list[str]] = {}
    for where, command in {**makefile_commands(), **workflow_commands(), **doc_commands()}.items():
        found.setdefault(" ".join(command.split()), []).append(where.split(": ")[0])
    return found


def test_commands_are_found_where_they_live():
    commands = all_commands()
    assert commands["cdktf deploy infra apps --auto-approve"] == ["make deploy"]
    assert commands["cdktf destroy apps infra --auto-approve"] == ["make destroy"]
    assert [c for c, where in commands.items() if "deploy-environment.yml" in where] == [
        'npx cdktf deploy infra apps --auto-approve --outputs-file "$RUNNER_TEMP/outputs.json" '
        "--outputs-file-include-sensitive-outputs=false"]
    assert len([c for c, where in commands.items() if "destroy.yml" in where]) == 2
    assert "docs/ci-cd.md" in commands["npx cdktf deploy bootstrap"]


@pytest.mark.parametrize("command", sorted(all_commands()))
def test_cdktf_accepts_the_command(cdktf_projects, command):
    check_command(cdktf_projects, command)


def test_cdktf_refuses_a_stack_without_its_dependencies(cdktf_projects):
    """The check is faithful where it matters: cdktf itself refuses `deploy apps` alone, before
    Terraform runs anywhere (the defect of `make rotate-db-password` before issue 19)."""
    result = cdktf_projects().run(["deploy", "apps", "--auto-approve"])
    assert result.returncode != 0
    assert ("The following dependencies are not included in the stacks to run: infra. "
            "Either add them or add the --ignore-missing-stack-dependencies flag.") in result.output
    assert result.ran == set()


def test_cdktf_refuses_to_destroy_a_stack_another_depends_on(cdktf_projects):
    result = cdktf_projects(everything_deployed=True).run(["destroy", "infra", "--auto-approve"])
    assert "The following dependant stacks are not included in the stacks to run: apps." in result.output
    assert result.returncode != 0 and "infra" in result.applied
