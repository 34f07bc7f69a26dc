"""Load the prebuilt provider packages lazily: only the submodules the app imports.

Why: `import cdktf_cdktf_provider_aws.vpc` first runs the package's `__init__`, which
imports all ~2,100 generated submodules (about 15 s) although the app uses a few dozen.
The same holds, smaller, for the kubernetes and helm packages (terraform-cdk issues
#3753 and #2835; never fixed upstream, and the project is archived).

How: before the first import, each package is registered in `sys.modules` as a bare
package module (right spec and `__path__`, its `__init__` not executed). Importing
`cdktf_cdktf_provider_aws.vpc` then loads `_jsii` (the assembly) and `vpc` alone.

Why it is safe:
- the packages are pinned and frozen (CDKTF is archived): their `__init__` does nothing
  but import the submodules and define `check_type`, which every submodule takes from
  `_jsii` instead;
- jsii registers each class when its own submodule is imported, so every class the app
  imports is registered as before;
- a class that jsii hands back at run time from a submodule nobody imported is found
  through jsii's own lazy-loading hook, `_submodule_fqn_map` (FQN prefix -> module),
  which these packages predate and which is filled here. jsii names a submodule's Python
  module by snake-casing its camelCase name; tests check that rule for every submodule.

`install(eager=True)` turns it off (to compare; the output is byte-identical). This module
reads no environment: the package's entry point (`airflow_platform/__init__.py`) decides,
from `CDKTF_EAGER_PROVIDER_IMPORT=1`.
"""

from __future__ import annotations

import importlib.util
import os
import sys

EAGER_SWITCH = "CDKTF_EAGER_PROVIDER_IMPORT"
PROVIDER_PACKAGES = {
    "cdktf_cdktf_provider_aws": "@cdktf/provider-aws",
    "cdktf_cdktf_provider_helm": "@cdktf/provider-helm",
    "cdktf_cdktf_provider_kubernetes": "@cdktf/provider-kubernetes",
}


def jsii_submodule_name(python_module: str) -> str:
    """`s3_bucket_versioning` -> `s3BucketVersioning`: the jsii name a submodule's module came from."""
    first, *rest = python_module.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def submodules(package_dir: str) -> list[str]:
    return sorted(d for d in os.listdir(package_dir)
                  if not d.startswith("_") and os.path.isfile(os.path.join(package_dir, d, "__init__.py")))


def install(eager: bool = False) -> bool:
    """Register the provider packages lazily; False when `eager` or already imported eagerly."""
    if eager:
        return False
    from jsii import _reference_map

    installed = False
    for module_name, assembly in PROVIDER_PACKAGES.items():
        if module_name in sys.modules:  # already imported (eagerly, or by an earlier install)
            continue
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.submodule_search_locations:
            continue
        sys.modules[module_name] = importlib.util.module_from_spec(spec)  # its __init__ is not run
        package_dir = spec.submodule_search_locations[0]
        for name in submodules(package_dir):
            _reference_map._submodule_fqn_map[f"{assembly}.{jsii_submodule_name(name)}"] = f"{module_name}.{name}"
        installed = True
    return installed
