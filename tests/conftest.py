"""Shared fixtures. The synthesized app is built once per session: importing the AWS
provider package alone costs about 15 s and 0.6 GB, so no test synthesizes on its own."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_platform.settings import Settings
from defaults import (
    EXTRA_TASK_STATEMENT, SHARED_STATE_BUCKET, TEAM_IMAGE_DIGEST, TEAM_IMAGE_REPOSITORY, settings_without_env,
)

if TYPE_CHECKING:  # the real import is slow (the provider classes): only in synthesize()
    from airflow_platform.app import Stacks

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")

# `make test-fast` runs `-m "not slow"`: everything that starts Terraform, moto, a real
# server, another Airflow, the apps rehearsal, a documented command in a shell or a synthesis
# of its own, or reaches the package index, is slow. A test carries
# one of these markers; `slow` follows.
SLOW_MARKERS = ("terraform", "emulator", "apps_rehearsal", "real_servers", "airflow_upgrade", "documented_commands",
                "separate_synthesis", "network")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)


@dataclass
class Synthesized:
    """The stacks of one synthesis: the stack objects, their JSON as written, and the folder
    Terraform would run in."""

    settings: Settings
    outdir: Path
    stacks: Stacks  # the TerraformStack objects, for cdktf's `Testing`
    infra: dict  # <outdir>/stacks/infra/cdk.tf.json, as Terraform reads it (with cdktf's "//" metadata)
    apps: dict
    bootstrap: dict
    _testing_synth: dict[str, str] = field(default_factory=dict, repr=False)

    def stack_dir(self, stack: str) -> Path:
        return self.outdir / "stacks" / stack

    def testing_synth(self, stack: str) -> str:
        """`Testing.synth` of one stack: its JSON without cdktf's "//" metadata, keys sorted.

        `Testing.synth` skips `prepare_stack()`, which resolves cross-stack references; the
        `app.synth()` in `synthesize` below has prepared every stack already."""
        if stack not in self._testing_synth:
            from cdktf import Testing

            self._testing_synth[stack] = Testing.synth(getattr(self.stacks, stack))
        return self._testing_synth[stack]


def synthesize(settings: Settings, outdir: Path) -> Synthesized:
    """One synthesis (the session's only one for these settings): `app.synth()` writes the
    folder that the Terraform tests run in, and the stack objects are kept for `Testing`."""
    from airflow_platform.app import build_app  # slow import: only when a test needs it

    app, stacks = build_app(settings, outdir)
    app.synth()  # prepares every stack (cross-stack references), then writes them
    written = {s: json.loads((outdir / "stacks" / s / "cdk.tf.json").read_text()) for s in stacks._fields}
    return Synthesized(settings=settings, outdir=outdir, stacks=stacks, **written)


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synthesized:
    """The default (dev) profile."""
    return synthesize(settings_without_env(), tmp_path_factory.mktemp("synth-dev"))


OIDC_ISSUER_URL = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"
ACM_CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0f2d1c3b-1a2b-4c5d-8e9f-0a1b2c3d4e5f"


@pytest.fixture(scope="session")
def synth_prod(tmp_path_factory) -> Synthesized:
    """The prod profile, and the other branch of every optional setting: S3 backend, admins,
    an internet-facing UI with HTTPS and sign-in through an OIDC provider, a private DAG repository
    over SSH, KEDA, an existing GitHub OIDC provider, the team's image, alert emails."""
    settings = settings_without_env(
        profile="prod", state_bucket="example-terraform-state",
        cluster_admin_principal_arns="arn:aws:iam::123456789012:role/platform-admins",
        acm_certificate_arn=ACM_CERTIFICATE_ARN, ui_exposure="internet-facing",
        oidc_issuer_url=OIDC_ISSUER_URL, oidc_client_id="airflow-prod", oidc_groups_claim="cognito:groups",
        oidc_role_mappings="airflow-admins=Admin,data-engineers=User,data-engineers=Op",
        git_sync_repo="git@github.com:example/pipelines.git", git_sync_ssh_secret="airflow-git-ssh",  # pragma: allowlist secret
        celery_worker_autoscaling="true", github_repository="example/pipelines", github_oidc_provider_exists="true",
        airflow_task_policy_statements=json.dumps([EXTRA_TASK_STATEMENT]),
        airflow_image_repository=TEAM_IMAGE_REPOSITORY, airflow_image_digest=TEAM_IMAGE_DIGEST,
        alert_email_addresses="oncall@example.com,data-platform@example.org",
    )
    return synthesize(settings, tmp_path_factory.mktemp("synth-prod"))


@pytest.fixture(scope="session")
def synth_previous_eks(synth, tmp_path_factory) -> Synthesized:
    """The default profile one Kubernetes minor back (`eks_version` changed, nothing else): where
    an EKS upgrade to the default starts. About a second once `synth` has imported the provider."""
    from airflow_platform.versions import previous_eks_version

    settings = settings_without_env(eks_version=previous_eks_version(synth.settings.eks_version))
    return synthesize(settings, tmp_path_factory.mktemp("synth-previous-eks"))


@pytest.fixture(scope="session")
def synth_restored(tmp_path_factory) -> Synthesized:
    """dev after the restore runbook (docs/restore.md): `db_restore_time` set, so the platform
    uses an instance restored from the one it created. The emulator test applies it over dev."""
    from tools.emulator.db_restore_rehearsal import RESTORED

    from airflow_platform.versions import previous_eks_version

    # at the cycle's Kubernetes version (synth_previous_eks): the restore is the only change
    settings = settings_without_env(**RESTORED, eks_version=previous_eks_version(settings_without_env().eks_version))
    return synthesize(settings, tmp_path_factory.mktemp("synth-restored"))


@pytest.fixture(scope="session")
def synth_next_airflow(tmp_path_factory) -> Synthesized:
    """dev with the next Airflow version: the emulator test applies its apps side over dev's,
    where the pre-upgrade snapshot must be taken anew."""
    from tools.emulator.db_restore_rehearsal import NEXT_AIRFLOW

    return synthesize(settings_without_env(**NEXT_AIRFLOW), tmp_path_factory.mktemp("synth-next-airflow"))


@pytest.fixture(scope="session")
def bootstrap_into_shared_bucket(synth, tmp_path_factory) -> dict[str, tuple[Settings, Any]]:
    """dev's and prod's settings and bootstrap stacks, each stack alone in an App, both with `state_bucket_exists`
    in one bucket (docs/ci-cd.md, "Sharing one bucket"). The bootstrap stack only: building
    it costs little once the provider package is imported (by `synth`)."""
    from cdktf import App

    from airflow_platform.stacks.bootstrap import BootstrapStack

    stacks = {}
    for profile in ("dev", "prod"):
        settings = settings_without_env(profile=profile, state_bucket=SHARED_STATE_BUCKET, state_bucket_exists="true")
        app = App(outdir=str(tmp_path_factory.mktemp(f"shared-bucket-{profile}")))
        stacks[profile] = (settings, BootstrapStack(app, "bootstrap", settings=settings))
    return stacks


@pytest.fixture(scope="session")
def infra_terraform_dir(synth, tmp_path_factory) -> Path:
    """A copy of the dev infra stack, `terraform init`-ed once per session for the tests that
    run Terraform on it (init installs the provider: once is enough). Its state, if any,
    stays in the copy; the shared synthesis gets no .terraform/."""
    from tools.terraform_cli import terraform

    stack_dir = tmp_path_factory.mktemp("terraform") / "infra"
    shutil.copytree(synth.stack_dir("infra"), stack_dir)
    stack = json.loads((stack_dir / "cdk.tf.json").read_text())
    stack["terraform"]["backend"] = {"local": {"path": "terraform.tfstate"}}
    (stack_dir / "cdk.tf.json").write_text(json.dumps(stack))
    terraform(stack_dir, "init", "-input=false")
    return stack_dir


@pytest.fixture(scope="session")
def cdktf_projects(synth, tmp_path_factory):
    """Offline cdktf projects with the dev synthesis's real manifest and trivial stacks
    (tests/cdktf_check.py, tools/cdktf_offline.py)."""
    from cdktf_check import ProjectFactory
    from tools.cdktf_offline import CdktfUnavailable, OfflineCdktfProject

    try:
        OfflineCdktfProject.check_tools()
    except CdktfUnavailable as err:
        pytest.fail(str(err))
    return ProjectFactory(synth.outdir, tmp_path_factory.mktemp)


# --- the charts, rendered with `helm template` exactly as the apps stack passes them ------


def render(synthesized: Synthesized, release: dict):
    """One `helm_release` of `synthesized`, rendered by the real chart; fails in CI
    (REQUIRE_CHART_SCHEMA=1) and skips elsewhere when the chart cannot be had."""
    from tools.chart_render import ChartUnavailable, TerraformValues, render_release

    try:
        return render_release(release, TerraformValues({"infra": synthesized.infra, "apps": synthesized.apps}),
                              kube_version=f"{synthesized.settings.eks_version}.0")
    except ChartUnavailable as err:
        if os.environ.get("REQUIRE_CHART_SCHEMA") == "1":  # set by .ci/run: CI must not skip these
            pytest.fail(f"REQUIRE_CHART_SCHEMA=1 and {err}")
        pytest.skip(f"the chart is needed and unavailable: {err}")


def render_airflow(synthesized: Synthesized):
    """The Airflow release of `synthesized`, rendered."""
    from tf_json import chart_release

    return render(synthesized, chart_release(synthesized.apps, "airflow"))


_renders: dict[str, object] = {}


def render_once(variant: str, synthesized: Synthesized):
    if variant not in _renders:
        _renders[variant] = render_airflow(synthesized)
    return _renders[variant]


@pytest.fixture(scope="session")
def rendered(synth):
    """The dev profile's Airflow release, rendered."""
    return render_once("dev-http", synth)


@pytest.fixture(scope="session")
def rendered_prod(synth_prod):
    """The prod profile's Airflow release (HTTPS, SSH git-sync, KEDA), rendered."""
    return render_once("prod-https", synth_prod)


# The other two corners of (profile x HTTPS), for the checks that must hold in all four.
VARIANTS = {"dev-http": "synth", "prod-https": "synth_prod", "dev-https": "synth_dev_https",
            "prod-http": "synth_prod_http"}


@pytest.fixture(scope="session")
def synth_dev_https(tmp_path_factory) -> Synthesized:
    """dev with HTTPS, and a private DAG repository over https with a token Secret."""
    settings = settings_without_env(acm_certificate_arn=ACM_CERTIFICATE_ARN,
                                    git_sync_repo="https://github.com/example/pipelines.git",
                                    git_sync_credentials_secret="airflow-git-credentials")  # pragma: allowlist secret
    return synthesize(settings, tmp_path_factory.mktemp("synth-dev-https"))


@pytest.fixture(scope="session")
def synth_prod_http(tmp_path_factory) -> Synthesized:
    return synthesize(settings_without_env(profile="prod"), tmp_path_factory.mktemp("synth-prod-http"))


@pytest.fixture(scope="session", params=sorted(VARIANTS))
def rendered_variant(request):
    """(variant name, synthesized, rendered) for each corner of profile x HTTPS; rendered once."""
    synthesized = request.getfixturevalue(VARIANTS[request.param])
    return request.param, synthesized, render_once(request.param, synthesized)


def render_addons(synthesized: Synthesized) -> dict:
    """The apps stack's other releases (Cluster Autoscaler; KEDA when autoscaling is on), rendered."""
    from tf_json import resources

    return {release["chart"]: render(synthesized, release)
            for release in resources(synthesized.apps, "helm_release").values() if release["chart"] != "airflow"}


@pytest.fixture(scope="session")
def rendered_addons(synth) -> dict:
    """The dev profile's Cluster Autoscaler (and KEDA, if on) releases, rendered, by chart name."""
    return render_addons(synth)


@pytest.fixture(scope="session")
def rendered_addons_prod(synth_prod) -> dict:
    """The prod profile's Cluster Autoscaler and KEDA releases, rendered, by chart name."""
    return render_addons(synth_prod)


@pytest.fixture(scope="session")
def rendered_prod_http(synth_prod_http):
    """The prod profile with only its defaults, rendered (docs/costs.md's cost table reads it)."""
    return render_once("prod-http", synth_prod_http)
