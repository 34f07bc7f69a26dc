"""Run the real `terraform` binary on a synthesized stack folder.

`TF_PROVIDER_MIRROR` may name a filesystem mirror (the folder that contains
`registry.terraform.io/`) for machines without access to the Terraform registry.
"""

from __future__ import annotations

import os
import shutil
import signal
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
              check: bool = True, log_path: Path | None = None,
              interrupt_grace: float = 90) -> subprocess.CompletedProcess:
    """`terraform <args>` in `cwd`; raises TerraformError with its output when it fails and `check`.

    `log_path`, when given, receives the command and its whole output. Terraform runs in its
    own session, so a Ctrl-C at the terminal reaches only this process: on KeyboardInterrupt
    (or a timeout, or any exception while waiting) Terraform gets ONE interrupt, which makes
    it stop gracefully and write its state, and `interrupt_grace` seconds to exit before it
    is killed; then the exception propagates. Two interrupts would make it exit at once.
    """
    binary = shutil.which("terraform")
    if not binary:
        raise TerraformError("terraform is not on PATH (Terraform >= 1.11 is required: write-only attributes)")
    argv = [binary, *args, "-no-color"] if args[0] not in ("version",) else [binary, *args]
    with subprocess.Popen(argv, cwd=cwd, env=env or terraform_env(), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            _stop_gracefully(process, interrupt_grace)
            raise
    result = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    if log_path is not None:
        Path(log_path).write_text(f"$ terraform {' '.join(args)}\n# exit {result.returncode}\n{stdout}\n{stderr}")
    if check and result.returncode != 0:
        raise TerraformError(f"terraform {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def _stop_gracefully(process: subprocess.Popen, grace: float) -> None:
    try:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=grace)  # drains the pipes so it can exit
    except BaseException:  # out of patience, or interrupted again: stop it now
        process.kill()
        process.communicate()
