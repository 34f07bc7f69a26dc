"""Run the real `terraform` binary on a synthesized stack folder.

`TF_PROVIDER_MIRROR` may name a filesystem mirror (the folder that contains
`registry.terraform.io/`) for machines without access to the Terraform registry.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

MIRROR_ENV = "TF_PROVIDER_MIRROR"


class TerraformError(RuntimeError):
    pass


def terraform_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", TF_INPUT="0")
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        config = Path(tempfile.gettempdir()) / f"terraform-mirror-{os.getuid()}.tfrc"
        config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
        env["TF_CLI_CONFIG_FILE"] = str(config)
    env.update(extra or {})
    return env


def terraform(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 900,
              check: bool = True) -> subprocess.CompletedProcess:
    """`terraform <args>` in `cwd`; raises TerraformError with its output when it fails and `check`."""
    binary = shutil.which("terraform")
    if not binary:
        raise TerraformError("terraform is not on PATH (Terraform >= 1.10 is required)")
    result = subprocess.run([binary, *args, "-no-color"] if args[0] not in ("version",) else [binary, *args],
                            cwd=cwd, env=env or terraform_env(), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise TerraformError(f"terraform {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
