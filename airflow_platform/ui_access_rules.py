"""The rules of who may reach the Airflow UI and how they sign in: its exposure, TLS, the OIDC provider.

Apart from `setting_rules.py` so that this concern reads in one place; `setting_rules` adds
these ids to CUSTOM_RULES and these rules to the rules between settings.
"""

from __future__ import annotations

from typing import Any, Callable

UI_EXPOSURES = ("internal", "internet-facing")
# Airflow's built-in FAB roles (airflow.providers.fab.auth_manager.security_manager.override: ROLE_CONFIGS
# plus Admin and Public), the only roles that exist before someone creates more in the UI.
AIRFLOW_ROLES = ("Admin", "Op", "User", "Viewer", "Public")

UI_EXPOSURE_RE = rf"^({'|'.join(UI_EXPOSURES)})$"
# OIDC Core 1.0, 2: "Issuer Identifier ... a case-sensitive URL using the https scheme ... and no query or
# fragment components". No userinfo either (credentials in a URL).
OIDC_ISSUER_RE = r"^$|^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s?#{}'\"\\]*)?$"
# A client id is opaque to us; no whitespace, quotes, backslashes or braces (the chart templates the
# webserver_config.py it is written into with `tpl`, which reads `{{`).
OIDC_CLIENT_ID_RE = r"^$|^[^\s'\"\\{}]{1,255}$"
OIDC_GROUPS_CLAIM_RE = r"^[A-Za-z_][\w:./-]{0,127}$"
OIDC_ROLE_MAPPING_RE = rf"^[^\s=,'\"\\{{}}]+=({'|'.join(AIRFLOW_ROLES)})$"

UI_RULE_IDS = (
    "ui_internet_facing_without_tls", "allow_plain_http_ui_in_prod", "allow_plain_http_ui_open_to_everyone",
    "oidc_client_id_missing", "oidc_issuer_url_missing",
)

Bad = Callable[[str, str, Any, str], None]


def plain_http_on_the_internet(s: Any) -> bool:
    """The UI would listen without TLS on an internet-facing load balancer."""
    return s.ui_exposure == "internet-facing" and not s.acm_certificate_arn


def _internet_facing_needs_tls(s: Any, bad: Bad) -> None:
    # The admin password and session cookies would cross the internet in clear text.
    if plain_http_on_the_internet(s) and not s.allow_plain_http_ui:
        bad("ui_internet_facing_without_tls", "ui_exposure", s.ui_exposure,
            "an internet-facing UI needs acm_certificate_arn (HTTPS on 443): set it, or keep ui_exposure "
            "internal and reach the UI from the VPC, a peer or a VPN (kubectl port-forward on day one); "
            "plain HTTP on the internet only with allow_plain_http_ui=true, in dev, from narrowed "
            "load_balancer_source_cidrs")


def _plain_http_only_in_dev(s: Any, bad: Bad) -> None:
    if s.allow_plain_http_ui and s.profile != "dev":
        bad("allow_plain_http_ui_in_prod", "allow_plain_http_ui", s.allow_plain_http_ui,
            f"plain HTTP on the internet is allowed in dev only, not in {s.profile}: set acm_certificate_arn")


def _plain_http_never_from_everyone(s: Any, bad: Bad) -> None:
    if s.allow_plain_http_ui and plain_http_on_the_internet(s):
        for net in s.load_balancer_source_cidrs:
            if net.prefixlen == 0:
                bad("allow_plain_http_ui_open_to_everyone", "load_balancer_source_cidrs", str(net),
                    "with allow_plain_http_ui, list only the addresses that may reach the plain-HTTP UI "
                    "(your office, your VPN), never everyone")


def _oidc_complete(s: Any, bad: Bad) -> None:
    if s.oidc_issuer_url and not s.oidc_client_id:
        bad("oidc_client_id_missing", "oidc_client_id", s.oidc_client_id,
            "set the client id the identity provider gave this application when oidc_issuer_url is set")
    if not s.oidc_issuer_url and (s.oidc_client_id or s.oidc_role_mappings):
        bad("oidc_issuer_url_missing", "oidc_issuer_url", s.oidc_issuer_url,
            "set the identity provider's issuer (https://...) when oidc_client_id or oidc_role_mappings is "
            "set, or leave all three empty for the local admin sign-in")


UI_BETWEEN_RULES: tuple[Callable[[Any, Bad], None], ...] = (
    _internet_facing_needs_tls, _plain_http_only_in_dev, _plain_http_never_from_everyone, _oidc_complete,
)
