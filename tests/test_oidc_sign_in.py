"""Sign-in through an OIDC provider: the webserver_config.py FAB loads, and the secret's path to the pod.

The file is executed with the real FAB provider of `.venv` (the image's version): a config that
does not import, or a security manager that maps groups wrongly, fails here. That the API server
offers the provider on its login page, after fetching the discovery document, is proven by the
apps rehearsal (tools/rehearse_apps/oidc_sign_in.py).
"""

from __future__ import annotations

import os

import pytest

from airflow_platform.oidc_sign_in import (
    CLIENT_SECRET_ENV, KUBERNETES_SECRET, OidcSignIn, client_secret_id, webserver_config,
)
from tf_json import release_values, resources

SIGN_IN = OidcSignIn(issuer_url="https://idp.example.com/oauth2/default/", client_id="airflow-client",
                     client_secret_id="airflow-prod/airflow/oidc-client-secret", groups_claim="cognito:groups",
                     role_mappings=("airflow-admins=Admin", "data-eng=User", "data-eng=Op"))


@pytest.fixture(scope="module")
def config() -> dict:
    os.environ[CLIENT_SECRET_ENV] = "not-a-real-secret"  # pragma: allowlist secret
    namespace: dict = {}
    try:
        exec(compile(webserver_config(SIGN_IN), "webserver_config.py", "exec"), namespace)
    finally:
        del os.environ[CLIENT_SECRET_ENV]
    return namespace


def test_the_config_turns_on_oauth_with_the_provider_found_by_discovery(config):
    from flask_appbuilder.security.manager import AUTH_OAUTH

    assert config["AUTH_TYPE"] == AUTH_OAUTH
    [provider] = config["OAUTH_PROVIDERS"]
    app = provider["remote_app"]
    assert provider["name"] == "oidc"
    assert app["server_metadata_url"] == "https://idp.example.com/oauth2/default/.well-known/openid-configuration"
    assert app["client_id"] == "airflow-client" and app["client_secret"] == "not-a-real-secret"  # pragma: allowlist secret
    assert "openid" in app["client_kwargs"]["scope"].split()
    assert config["AUTH_ROLES_MAPPING"] == {"airflow-admins": ["Admin"], "data-eng": ["User", "Op"]}
    assert config["AUTH_ROLES_SYNC_AT_LOGIN"] is True
    assert config["AUTH_USER_REGISTRATION_ROLE"] == "Public"  # unmapped users get no access


def test_the_security_manager_is_fabs_and_reads_the_configured_groups_claim(config):
    from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride

    manager = config["SECURITY_MANAGER_CLASS"]
    assert issubclass(manager, FabAirflowSecurityManagerOverride)  # FabAuthManager refuses anything else
    claims = {"sub": "7c1e", "email": "ana@example.com", "given_name": "Ana", "cognito:groups": ["data-eng"]}
    info = manager.get_oauth_user_info(object.__new__(manager), "oidc", {"userinfo": claims})
    assert info == {"username": "oidc_7c1e", "email": "ana@example.com", "first_name": "Ana", "last_name": "",
                    "role_keys": ["data-eng"]}


def test_the_chart_templates_the_config_without_reading_it_as_a_template():
    # apiServer.apiServerConfig goes through `tpl` (templates/configmaps/api-server-configmap.yaml).
    assert "{{" not in webserver_config(SIGN_IN)


def test_prod_signs_in_through_the_provider_with_the_secret_from_secrets_manager(synth_prod):
    s = synth_prod.settings
    _, computed = release_values(synth_prod.apps)
    api = computed["apiServer"]
    assert f"server_metadata_url\": \"{s.oidc_issuer_url}/.well-known/openid-configuration" in api["apiServerConfig"]
    [env] = api["env"]
    ref = env["valueFrom"]["secretKeyRef"]
    assert env["name"] == CLIENT_SECRET_ENV and ref["key"] == "client-secret"
    assert ref["name"].startswith("${kubernetes_secret_v1.") and "oidc_client_secret" in ref["name"]
    [secret] = [r for r in resources(synth_prod.apps, "kubernetes_secret_v1").values()
                if r["metadata"]["name"] == KUBERNETES_SECRET]
    assert set(secret["data_wo"]) == {"client-secret"} and "data" not in secret
    assert "ephemeral.aws_secretsmanager_secret_version." in secret["data_wo"]["client-secret"]
    [read] = [e for e in synth_prod.apps["ephemeral"]["aws_secretsmanager_secret_version"].values()
              if e["secret_id"] == client_secret_id(s.prefix)]
    assert read["secret_id"] == "airflow-prod/airflow/oidc-client-secret"
    assert "oidc-client-secret-version" in " ".join(api["podAnnotations"])


def test_dev_keeps_the_local_sign_in(synth):
    _, computed = release_values(synth.apps)
    assert "apiServerConfig" not in computed["apiServer"] and "env" not in computed["apiServer"]
    assert not [r for r in resources(synth.apps, "kubernetes_secret_v1").values()
                if r["metadata"]["name"] == KUBERNETES_SECRET]


def test_the_chart_mounts_the_config_where_fab_reads_it_and_the_secret_as_env(synth_prod, rendered_prod):
    """As the chart renders it: the ConfigMap holds the file verbatim (after `tpl`), the API server
    mounts it at $AIRFLOW_HOME/webserver_config.py (FAB's `[fab] config_file` default), and the
    client secret arrives by env from the Secret, never as a value."""
    from tools.chart_render import pod_spec

    s = synth_prod.settings
    expected = webserver_config(OidcSignIn(
        issuer_url=s.oidc_issuer_url, client_id=s.oidc_client_id, client_secret_id=client_secret_id(s.prefix),
        groups_claim=s.oidc_groups_claim, role_mappings=s.oidc_role_mappings))
    config_map = rendered_prod.get("ConfigMap", "airflow-api-server-config")
    assert config_map["data"]["webserver_config.py"] == expected.rstrip("\n")
    spec = pod_spec(rendered_prod.get("Deployment", "airflow-api-server"))
    [api] = [c for c in spec["containers"] if c["name"] == "api-server"]
    [mount] = [m for m in api["volumeMounts"] if m.get("subPath") == "webserver_config.py"]
    assert mount["mountPath"] == "/opt/airflow/webserver_config.py"
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "airflow-api-server-config"
    [env] = [e for e in api["env"] if e["name"] == CLIENT_SECRET_ENV]
    assert env["valueFrom"]["secretKeyRef"] == {"name": KUBERNETES_SECRET, "key": "client-secret"}


def test_the_ci_roles_read_the_client_secret_where_the_docs_store_it(synth):
    """docs/security.md has the operator create `<prefix>/airflow/oidc-client-secret` under the platform's
    key: the plan and deploy roles' reads (the ephemeral value, the version ids) and the decrypt through
    Secrets Manager must be allowed there, as AWS evaluates them (tools/iam_eval.py)."""
    from airflow_platform.ci_policies import deploy_policy, plan_policy
    from defaults import example_ci_target
    from tools.iam_eval import Request, decide
    from tools.iam_resolve import secret_arn

    t = example_ci_target(synth.settings, "123456789012")
    arn = secret_arn(t.partition, t.region, t.account_id, client_secret_id(t.prefix))
    key = t.arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")
    via = {**t.platform_tags, "kms:ViaService": f"secretsmanager.{t.region}.amazonaws.com"}
    for policy in (plan_policy(t), deploy_policy(t)):
        for action in ("secretsmanager:GetSecretValue", "secretsmanager:ListSecretVersionIds"):
            assert decide(Request(action, arn, {}), [policy]).allowed, action
        assert decide(Request("kms:Decrypt", key, via), [policy]).allowed
