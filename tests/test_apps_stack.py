"""What the synthesized apps stack promises."""

from __future__ import annotations

from cdktf import Testing
from cdktf_cdktf_provider_helm.release import Release

from tf_json import chart_release


def test_apps_looks_the_cluster_up_through_infra_outputs(synth):
    cluster = synth.apps["data"]["aws_eks_cluster"]["cluster"]
    assert cluster["name"].startswith("${data.terraform_remote_state.cross-stack-reference-input-infra.outputs.")
    remote = synth.apps["data"]["terraform_remote_state"]["cross-stack-reference-input-infra"]
    assert remote["config"]["path"] == f"../../../terraform.{synth.settings.prefix}.infra.tfstate"


def test_kubernetes_and_helm_providers_use_exec_auth(synth):
    k8s = synth.apps["provider"]["kubernetes"][0]
    helm = synth.apps["provider"]["helm"][0]["kubernetes"]  # helm 3.x: an object attribute
    for config, exec_ in ((k8s, k8s["exec"][0]), (helm, helm["exec"])):
        assert config["host"] == "${data.aws_eks_cluster.cluster.endpoint}"
        assert exec_["command"] == "aws"
        assert exec_["args"][:2] == ["eks", "get-token"]
        assert "${data.aws_eks_cluster.cluster.name}" in exec_["args"]
        assert exec_["api_version"] == "client.authentication.k8s.io/v1beta1"
        for static in ("token", "config_path", "client_key", "password"):
            assert static not in config


def test_release_pins_the_official_chart(synth):
    chart_release(synth.apps, "airflow")  # exactly one release of the chart
    assert Testing.to_have_resource_with_properties(synth.testing_synth("apps"), Release.TF_RESOURCE_TYPE, {
        "repository": "https://airflow.apache.org", "chart": "airflow", "version": synth.settings.chart_version})
    assert synth.settings.chart_version == "1.21.0"


def test_pinned_providers(synth):
    versions = {k: v["version"] for k, v in synth.apps["terraform"]["required_providers"].items()}
    assert versions == {"aws": "5.100.0", "helm": "3.1.1", "kubernetes": "2.38.0"}


def test_the_stacks_meet_at_one_typed_seam(synth):
    """Every infra output the apps stack may read is a field of InfraOutputs, and nothing else
    is an output (but `environment`, which the state guard reads): a renamed field breaks
    synthesis, not a deploy."""
    from dataclasses import fields

    from airflow_platform.generated_secrets import GENERATED, output_name
    from airflow_platform.stacks.infra_outputs import InfraOutputs

    expected = {f.name for f in fields(InfraOutputs) if f.name not in ("generated_secret_arns", "airflow_role_arns")}
    expected |= {output_name(g.name) for g in GENERATED} | {"environment"}
    # a role per component that has one (AirflowRoles); the scheduler and dag-processor have none
    expected |= {"airflow_worker_role_arn", "airflow_triggerer_role_arn", "airflow_api_server_role_arn"}
    # for CI, which pushes the team's image there (scripts/team_image.py), not for the apps stack
    expected |= {"airflow_image_repository_url"}
    assert set(synth.infra["output"]) - {o for o in synth.infra["output"] if o.startswith("cross-stack-output-")} \
        == expected


def test_constructs_take_typed_props_not_the_settings_object():
    """Constructs are reusable: the stacks map settings onto each construct's own props."""
    import ast

    from paths import REPO

    for path in sorted((REPO / "airflow_platform" / "constructs").glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    for alias in node.names}
        assert "Settings" not in imported, f"{path.name} imports Settings"
        args = {a.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                for a in node.args.args + node.args.kwonlyargs}
        assert "settings" not in args, f"{path.name} has a `settings` parameter"
