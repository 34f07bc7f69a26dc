"""Builds and synthesizes the App: settings -> InfraStack, AppsStack (apps depends on infra), and
BootstrapStack (on its own: applied once by an administrator, `cdktf deploy bootstrap`)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from cdktf import App

from airflow_platform.settings import Settings
from airflow_platform.stacks.apps import AppsStack
from airflow_platform.stacks.bootstrap import BootstrapStack
from airflow_platform.stacks.infra import InfraStack


class Stacks(NamedTuple):
    """The App's stacks, by name (the stack ids are the field names)."""

    infra: InfraStack
    apps: AppsStack
    bootstrap: BootstrapStack


def build_app(settings: Settings, outdir: str | Path | None = None) -> tuple[App, Stacks]:
    """The App and its stacks, not yet synthesized (`app.synth()` writes them).

    Without `outdir`, cdktf's own choice: `CDKTF_OUTDIR` (set by the cdktf CLI) or `cdktf.out`.
    """
    app = App(outdir=str(outdir)) if outdir else App()
    infra = InfraStack(app, "infra", settings=settings)
    apps = AppsStack(app, "apps", settings=settings, infra=infra.outputs)
    apps.add_dependency(infra)
    bootstrap = BootstrapStack(app, "bootstrap", settings=settings)  # no dependency either way
    return app, Stacks(infra=infra, apps=apps, bootstrap=bootstrap)


def synthesize(settings: Settings, outdir: str | Path | None = None) -> Path:
    """Every stack to `<outdir>/stacks/{infra,apps,bootstrap}/cdk.tf.json`; returns the outdir.

    `App.synth()` prepares every stack first, so cross-stack references resolve.
    """
    app, _ = build_app(settings, outdir)
    app.synth()
    return Path(app.outdir)
