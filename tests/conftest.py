"""Shared fixtures. The synthesized app is built once per session: importing the AWS
provider package alone costs about 15 s and 0.6 GB, so no test synthesizes on its own."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_platform.settings import Settings, load_settings

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")


@dataclass
class Synthesized:
    """The stacks of one synthesis: the JSON, and the folder Terraform would run in."""

    settings: Settings
    outdir: Path
    infra: dict
    apps: dict
    bootstrap: dict

    def stack_dir(self, stack: str) -> Path:
        return self.outdir / "stacks" / stack


def synthesize(settings: Settings, outdir: Path) -> Synthesized:
    from airflow_platform.app import synthesize as synthesize_app  # slow import: only when a test needs it

    synthesize_app(settings, outdir)
    stacks = {s: json.loads((outdir / "stacks" / s / "cdk.tf.json").read_text()) for s in ("infra", "apps", "bootstrap")}
    return Synthesized(settings=settings, outdir=outdir, **stacks)


def settings_without_env(**overrides) -> Settings:
    """The committed defaults (cdktf.json), ignoring the caller's AIRFLOW_PLATFORM_* variables."""
    env = {f"AIRFLOW_PLATFORM_{k.upper()}": v for k, v in overrides.items()}
    return load_settings(environ=env)


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synthesized:
    """The default (dev) profile."""
    return synthesize(settings_without_env(), tmp_path_factory.mktemp("synth-dev"))


@pytest.fixture(scope="session")
def synth_prod(tmp_path_factory) -> Synthesized:
    """The prod profile, and the other branch of every optional setting: S3 backend, admins,
    HTTPS, a private DAG repository over SSH, KEDA, an existing GitHub OIDC provider."""
    settings = settings_without_env(
        profile="prod", state_bucket="example-terraform-state",
        cluster_admin_principal_arns="arn:aws:iam::123456789012:role/platform-admins",
        acm_certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/0f2d1c3b-1a2b-4c5d-8e9f-0a1b2c3d4e5f",
        git_sync_repo="git@github.com:example/pipelines.git", git_sync_ssh_secret="airflow-git-ssh",  # pragma: allowlist secret
        celery_worker_autoscaling="true", github_repository="example/pipelines", github_oidc_provider_exists="true",
    )
    return synthesize(settings, tmp_path_factory.mktemp("synth-prod"))


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
