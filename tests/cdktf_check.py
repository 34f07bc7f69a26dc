"""Run a cdktf command line through the real cdktf CLI, offline (tools/cdktf_offline.py), and
check it did what it says: a deploy applies exactly the stacks it names; a destroy, run where
every stack is applied, destroys exactly those and leaves the others."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from tools.cdktf_offline import CdktfRun, OfflineCdktfProject, cdktf_args

# A workflow's `$RUNNER_TEMP`: a folder in the project (relative paths resolve there).
WORKFLOW_VARIABLES = {"RUNNER_TEMP": "runner-temp"}


class ProjectFactory:
    """Fresh offline projects from one synthesis; a destroy starts from every stack applied
    (applied once, then copied)."""

    def __init__(self, synthesized: Path, mktemp: Callable[[str], Path]) -> None:
        self.synthesized = synthesized
        self.mktemp = mktemp
        self._deployed: OfflineCdktfProject | None = None

    def __call__(self, *, everything_deployed: bool = False) -> OfflineCdktfProject:
        if not everything_deployed:
            return OfflineCdktfProject(self.synthesized, self.mktemp("cdktf-project"))
        if self._deployed is None:
            deployed = OfflineCdktfProject(self.synthesized, self.mktemp("cdktf-deployed"))
            everything = deployed.run(["deploy", *deployed.stacks, "--auto-approve"])
            assert everything.returncode == 0 and everything.applied == set(deployed.stacks), everything.output
            self._deployed = deployed
        return self._deployed.copy(self.mktemp("cdktf-project"))


def named_stacks(args: list[str]) -> set[str]:
    """The stacks a `deploy`/`destroy` argument list names (positionals before the first flag)."""
    stacks = []
    for arg in args[1:]:
        if arg.startswith("-"):
            break
        stacks.append(arg)
    return set(stacks)


def check_command(projects: ProjectFactory, command: str) -> CdktfRun:
    args = cdktf_args(command, WORKFLOW_VARIABLES)
    if "--auto-approve" not in args:  # an operator approves by hand; approval is not what is checked
        args.append("--auto-approve")
    verb, stacks = args[0], named_stacks(args)
    project = projects(everything_deployed=verb == "destroy")
    (project.root / WORKFLOW_VARIABLES["RUNNER_TEMP"]).mkdir(exist_ok=True)
    result = project.run(args)
    assert result.returncode == 0, f"cdktf refused or failed `{command}`:\n{result.output[-3000:]}"
    if verb == "deploy":
        assert result.ran == stacks and result.applied == stacks, (result.ran, result.output[-2000:])
    else:
        assert stacks <= result.ran and result.applied == set(project.stacks) - stacks, result.output[-2000:]
    return result
