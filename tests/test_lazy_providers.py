"""Lazy provider loading: same bytes out, and jsii can still find every class."""

from __future__ import annotations

import filecmp
import importlib.util
import os
import re
import subprocess
import sys

import pytest

from airflow_platform.lazy_providers import EAGER_SWITCH, PROVIDER_PACKAGES, jsii_submodule_name, submodules
from paths import REPO


def synth_in_fresh_process(workdir, eager: bool):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_PLATFORM_")}
    env[EAGER_SWITCH] = "1" if eager else "0"
    subprocess.run([sys.executable, str(REPO / "main.py")], cwd=workdir, env=env, check=True,
                   capture_output=True, timeout=300)
    return workdir / "cdktf.out"


def all_files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


@pytest.mark.separate_synthesis
def test_lazy_and_eager_synthesis_are_byte_identical(tmp_path):
    (tmp_path / "lazy").mkdir()
    (tmp_path / "eager").mkdir()
    lazy = synth_in_fresh_process(tmp_path / "lazy", eager=False)
    eager = synth_in_fresh_process(tmp_path / "eager", eager=True)
    files = all_files(lazy)
    assert files == all_files(eager)
    assert any(f.name == "cdk.tf.json" for f in files)
    match, mismatch, errors = filecmp.cmpfiles(lazy, eager, [str(f) for f in files], shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(files)


@pytest.mark.parametrize("package, assembly", sorted(PROVIDER_PACKAGES.items()))
def test_every_submodule_follows_the_jsii_naming_rule(package, assembly):
    """The FQN map is derived from folder names: check the rule against each module's own jsii types."""
    package_dir = importlib.util.find_spec(package).submodule_search_locations[0]
    names = submodules(package_dir)
    assert len(names) > 2
    for name in names:
        with open(os.path.join(package_dir, name, "__init__.py")) as f:
            first_type = re.search(r'jsii_type="([^"]+)"', f.read(200_000)).group(1)
        assert first_type.startswith(f"{assembly}.{jsii_submodule_name(name)}."), (name, first_type)


def test_jsii_imports_a_class_from_a_submodule_nobody_imported():
    """What jsii does when the JS side hands back an object of a class Python never loaded."""
    code = """
import sys
import airflow_platform  # installs the lazy loader
from jsii import _reference_map
import cdktf_cdktf_provider_aws.vpc  # loads the aws assembly, as any use of the provider does
assert 'cdktf_cdktf_provider_aws.wafv2_web_acl' not in sys.modules
assert 'cdktf_cdktf_provider_aws.s3_bucket' not in sys.modules
_reference_map._try_import_type_module('@cdktf/provider-aws.wafv2WebAcl.Wafv2WebAcl')
assert '@cdktf/provider-aws.wafv2WebAcl.Wafv2WebAcl' in _reference_map._types
assert 'cdktf_cdktf_provider_aws.s3_bucket' not in sys.modules  # and nothing else came along
print('ok')
"""
    env = {k: v for k, v in os.environ.items() if k != EAGER_SWITCH}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
