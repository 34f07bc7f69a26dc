"""Run the real cdktf CLI (node_modules/.bin/cdktf) offline, on trivial stacks.

What cdktf accepts depends on the stacks a synthesis wrote: `cdktf deploy apps` alone is
refused because `cdktf.out/manifest.json` lists `infra` among apps' dependencies
(cdktf-cli 0.21, cli-core `helpers/stack-helpers.js`, checkIfAllDependenciesAreIncluded:
"The following dependencies are not included in the stacks to run: infra. Either add them
or add the --ignore-missing-stack-dependencies flag."; checkIfAllDependantsAreIncluded is
its counterpart for destroy). A unit test of a command line cannot see that; running cdktf
can, and needs no AWS account when the stacks it runs hold nothing that reaches one.

`OfflineCdktfProject` is a throwaway project folder:
- `cdktf.json`: the project's own, with `app` replaced by `false`, so a command that tried
  to synthesize fails instead of running main.py (every command runs with `--skip-synth`:
  cdktf then reads the outdir as it is, `CdktfProject.readSynthesizedStacks`);
- `<output>/manifest.json`: the real one of a synthesis (stack names, working directories
  and dependencies as cdktf wrote them);
- each stack's `cdk.tf.json`: the real `"//"` metadata (cdktf reads the stack name, backend
  and output names from it) and nothing that needs a provider: a local backend in the
  stack's folder, one `terraform_data` (built into Terraform) and the stack's outputs by
  name. So `cdktf deploy/destroy` really runs `terraform init`, plan and apply/destroy, and
  the state files say which stacks it ran.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CDKTF = REPO / "node_modules" / ".bin" / "cdktf"
MARKER = ("terraform_data", "ran")  # the one resource of every trivial stack


class CdktfUnavailable(RuntimeError):
    pass


def trivial_stack(name: str, real: dict) -> dict:
    """A stack that cdktf treats as `real` and Terraform applies with no provider at all."""
    rtype, rname = MARKER
    return {
        "//": real["//"],
        "terraform": {"backend": {"local": {"path": "terraform.tfstate"}}},
        "resource": {rtype: {rname: {"input": name}}},
        "output": {out: {"value": f"${{{rtype}.{rname}.output}}", **({"sensitive": True} if o.get("sensitive") else {})}
                   for out, o in real.get("output", {}).items()},
    }


def cdktf_args(command: str, variables: dict[str, str] | None = None) -> list[str]:
    """`npx cdktf deploy infra apps --outputs-file "$RUNNER_TEMP/x.json"` -> the arguments after
    `cdktf`, with `$VAR`/`${VAR}` replaced from `variables` (a shell would expand them)."""
    text = command.replace("\\\n", " ")
    for name, value in (variables or {}).items():
        text = text.replace("${" + name + "}", value).replace("$" + name, value)
    argv = shlex.split(text)
    if argv[:1] == ["npx"]:
        argv = argv[1:]
    if argv[:1] != ["cdktf"]:
        raise ValueError(f"not a cdktf command: {command!r}")
    return argv[1:]


@dataclass
class CdktfRun:
    args: list[str]
    returncode: int
    output: str  # stdout and stderr
    applied: set[str]  # stacks whose state holds the trivial resource after the run
    ran: set[str]  # stacks cdktf ran Terraform in (a state file exists)


class OfflineCdktfProject:
    """A project folder at `root` whose stacks are the trivial twins of a synthesis in `synthesized`."""

    @staticmethod
    def check_tools() -> None:
        if not CDKTF.exists():
            raise CdktfUnavailable(f"{CDKTF.relative_to(REPO)} is missing: run `make setup` (npm ci)")
        if not shutil.which("terraform"):
            raise CdktfUnavailable("terraform is not on PATH")

    def __init__(self, synthesized: Path, root: Path, cdktf_json: Path = REPO / "cdktf.json") -> None:
        self.check_tools()
        self.root = root
        config = json.loads(cdktf_json.read_text())
        config["app"] = "false"  # with --skip-synth cdktf never runs it; if it did, the command fails
        config.pop("context", None)  # the app's settings: nothing reads them here
        root.mkdir(parents=True, exist_ok=True)
        (root / "cdktf.json").write_text(json.dumps(config, indent=1))
        self.outdir = root / config.get("output", "cdktf.out")
        manifest = json.loads((synthesized / "manifest.json").read_text())
        self.outdir.mkdir(parents=True, exist_ok=True)
        (self.outdir / "manifest.json").write_text(json.dumps(manifest, indent=1))
        self.stacks = {}
        for name, stack in manifest["stacks"].items():
            real = json.loads((synthesized / stack["synthesizedStackPath"]).read_text())
            target = self.outdir / stack["synthesizedStackPath"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(trivial_stack(name, real), indent=1))
            self.stacks[name] = self.outdir / stack["workingDirectory"]
        (root / "terraform.rc").write_text("")  # no plugin cache or mirror of the caller: nothing to install

    def copy(self, root: Path) -> OfflineCdktfProject:
        """The same project, with its state, at `root` (e.g. every stack applied, for each destroy)."""
        shutil.copytree(self.root, root, symlinks=True, dirs_exist_ok=True)
        clone = object.__new__(OfflineCdktfProject)
        clone.root, clone.outdir = root, root / self.outdir.relative_to(self.root)
        clone.stacks = {n: root / d.relative_to(self.root) for n, d in self.stacks.items()}
        return clone

    def run(self, args: list[str], timeout: float = 180) -> CdktfRun:
        """`cdktf <args> --skip-synth` in the project, as an operator or a workflow would run it."""
        env = dict(os.environ, TF_CLI_CONFIG_FILE=str(self.root / "terraform.rc"), CHECKPOINT_DISABLE="1",
                   TF_IN_AUTOMATION="1", CI="true", FORCE_COLOR="0", CDKTF_DISABLE_PLUGIN_CACHE_ENV="true")
        env.pop("TF_PLUGIN_CACHE_DIR", None)
        argv = [str(CDKTF), *args, "--skip-synth"]
        result = subprocess.run(argv, cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        return CdktfRun(args, result.returncode, result.stdout + result.stderr,
                        applied={n for n in self.stacks if self._holds_marker(n)},
                        ran={n for n, d in self.stacks.items() if (d / "terraform.tfstate").exists()})

    def _holds_marker(self, stack: str) -> bool:
        state = self.stacks[stack] / "terraform.tfstate"
        if not state.exists():
            return False
        rtype, rname = MARKER
        return any(r["type"] == rtype and r["name"] == rname for r in json.loads(state.read_text()).get("resources", []))
