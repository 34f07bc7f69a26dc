"""Builds the App: settings -> InfraStack, AppsStack (apps depends on infra)."""

from __future__ import annotations

from cdktf import App

from airflow_platform.settings import Settings
from airflow_platform.stacks.apps import AppsStack
from airflow_platform.stacks.infra import InfraStack


def build_app(settings: Settings, outdir: str | None = None) -> tuple[App, InfraStack, AppsStack]:
    app = App(outdir=outdir) if outdir else App()
    infra = InfraStack(app, "infra", settings=settings)
    apps = AppsStack(app, "apps", settings=settings, infra=infra.outputs)
    apps.add_dependency(infra)
    return app, infra, apps
