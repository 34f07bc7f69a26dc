"""Sign-in to the Airflow UI through an OIDC identity provider (Okta, Entra ID, Google, Cognito, ...).

The FAB auth manager (apache-airflow-providers-fab) reads `webserver_config.py`; the chart mounts
`apiServer.apiServerConfig` as that file (templates/configmaps/api-server-configmap.yaml, passed
through `tpl`: the file must hold no `{{`). With `AUTH_TYPE = AUTH_OAUTH` the login page lists
`OAUTH_PROVIDERS` and Flask-AppBuilder's AuthOAuthView redirects to the provider found through
`server_metadata_url` (the discovery document). Authlib then checks the ID token (signature
from `jwks_uri`, issuer, audience, nonce) and puts its claims in the token's `userinfo`.

FAB's generic provider branch (`get_oauth_user_info`, "for other providers") reads only a
`groups` claim and `preferred_username`; Cognito names its claim `cognito:groups` and may send
no `preferred_username`. So the file installs a security manager (FAB's documented
`SECURITY_MANAGER_CLASS`, which must extend FabAirflowSecurityManagerOverride) that reads the
configured groups claim from the ID token, then the userinfo endpoint, and names the user by
the stable `sub`.

The client secret is no value here: the API server reads it from the environment, filled from
a Kubernetes Secret that Terraform writes write-only from Secrets Manager
(constructs/oidc_client_secret.py). Pure data and text: importing this costs nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from airflow_platform.airflow_identity import RELEASE_NAME
from airflow_platform.generated_secrets import secret_name

PROVIDER_NAME = "oidc"  # not one of FAB's named providers, so no provider-specific branch applies
CLIENT_SECRET_ENV = "AIRFLOW_OIDC_CLIENT_SECRET"  # pragma: allowlist secret (a variable name)
CLIENT_SECRET_KEY = "client-secret"  # pragma: allowlist secret (a key name)
KUBERNETES_SECRET = f"{RELEASE_NAME}-oidc-client-secret"
# Users the provider signs in but no mapping names get this role: no access until mapped.
UNMAPPED_ROLE = "Public"


def client_secret_id(prefix: str) -> str:
    """Where the operator stores the client secret (Secrets Manager, the airflow-secrets KMS key)."""
    return secret_name(prefix, "oidc-client-secret")


@dataclass(frozen=True)
class OidcSignIn:
    issuer_url: str
    client_id: str
    client_secret_id: str  # Secrets Manager secret (name or ARN) holding the client secret
    groups_claim: str = "groups"
    role_mappings: tuple[str, ...] = ()  # "group=Role"

    @property
    def discovery_url(self) -> str:
        return self.issuer_url.rstrip("/") + "/.well-known/openid-configuration"

    def roles_by_group(self) -> dict[str, list[str]]:
        mapping: dict[str, list[str]] = {}
        for pair in self.role_mappings:
            group, role = pair.rsplit("=", 1)
            mapping.setdefault(group, []).append(role)
        return mapping


def webserver_config(oidc: OidcSignIn) -> str:
    """The `webserver_config.py` of the API server for this provider."""
    provider = {
        "name": PROVIDER_NAME,
        "icon": "fa-openid",
        "token_key": "access_token",
        "remote_app": {
            "client_id": oidc.client_id,
            "server_metadata_url": oidc.discovery_url,
            "client_kwargs": {"scope": "openid email profile"},
        },
    }
    text = f'''"""Written by airflow_platform/oidc_sign_in.py: sign-in through {oidc.issuer_url}."""
import os

from flask_appbuilder.security.manager import AUTH_OAUTH

from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride

AUTH_TYPE = AUTH_OAUTH
AUTH_USER_REGISTRATION = True
AUTH_USER_REGISTRATION_ROLE = {UNMAPPED_ROLE!r}
# The provider's groups decide the roles at every sign-in: removing someone from a group
# removes the role the next time they sign in.
AUTH_ROLES_SYNC_AT_LOGIN = True
AUTH_ROLES_MAPPING = {_py(oidc.roles_by_group())}
GROUPS_CLAIM = {oidc.groups_claim!r}

OAUTH_PROVIDERS = [{_py(provider)}]
OAUTH_PROVIDERS[0]["remote_app"]["client_secret"] = os.environ[{CLIENT_SECRET_ENV!r}]


class OidcSecurityManager(FabAirflowSecurityManagerOverride):
    """Names the user by `sub` and reads the groups from GROUPS_CLAIM (ID token, then userinfo)."""

    def get_oauth_user_info(self, provider, resp):
        if provider != {PROVIDER_NAME!r}:
            return super().get_oauth_user_info(provider, resp)
        claims = dict(resp.get("userinfo") or {{}})  # the ID token's claims, checked by authlib
        if GROUPS_CLAIM not in claims or "email" not in claims:
            claims = {{**self.oauth_remotes[provider].userinfo(token=resp), **claims}}
        groups = claims.get(GROUPS_CLAIM) or []
        if isinstance(groups, str):
            groups = [groups]
        return {{
            "username": "{PROVIDER_NAME}_" + claims["sub"],
            "email": claims.get("email", ""),
            "first_name": claims.get("given_name", ""),
            "last_name": claims.get("family_name", ""),
            "role_keys": list(groups),
        }}


SECURITY_MANAGER_CLASS = OidcSecurityManager
'''
    # The chart passes apiServerConfig through `tpl`, and Terraform reads `${` and `%{` in the values.
    assert not any(mark in text for mark in ("{{", "${", "%{")), "a template marker in webserver_config.py"
    return text


def chart_values(oidc: OidcSignIn, secret: str = KUBERNETES_SECRET) -> dict:
    """The chart values that turn the sign-in on: the config file, and the secret from a Secret."""
    return {"apiServer": {
        "apiServerConfig": webserver_config(oidc),
        "env": [{"name": CLIENT_SECRET_ENV, "valueFrom": {"secretKeyRef": {"name": secret, "key": CLIENT_SECRET_KEY}}}],
    }}


def _py(value: object) -> str:
    """A Python literal of JSON-like data (strings, lists, dicts): JSON is one, with `{` spaced apart."""
    return json.dumps(value, indent=4)
