"""The apps rehearsal's OIDC stand-in (tools/rehearse_apps/oidc_sign_in.py), without the machine.

The stub must be a discovery document authlib accepts: OpenID Connect Discovery 1.0, section 3
lists the REQUIRED fields, and section 4.3 requires `issuer` to equal the URL it was fetched
under (authlib compares them). The whole sign-in check runs in the rehearsal (marker
`apps_rehearsal`, tests/test_rehearse_apps.py).
"""

from __future__ import annotations

import json
import urllib.request

from tools.rehearse_apps.oidc_sign_in import StubProvider, login_page_problem

REQUIRED = {"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
            "subject_types_supported", "id_token_signing_alg_values_supported"}


def test_the_stub_serves_a_discovery_document_under_its_issuer():
    stub = StubProvider("127.0.0.1").start()
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(stub.issuer + "/.well-known/openid-configuration", timeout=10) as response:
            document = json.loads(response.read())
        assert REQUIRED <= set(document) and document["issuer"] == stub.issuer
        assert document["authorization_endpoint"].startswith(stub.issuer + "/")
        assert stub.fetches == 1
    finally:
        stub.stop()


def test_the_login_page_check_tells_the_two_forms_apart():
    # The markup of flask_appbuilder's login_oauth.html and login_db.html.
    oauth = '<a id="btn-signin-oidc" class="btn">Sign In with oidc</a>'
    password = '<input type="password" name="password" id="password">'
    assert login_page_problem(oauth, "oidc") is None
    assert "does not offer the provider" in login_page_problem(password, "oidc")
    assert login_page_problem(password, None) is None
    assert "password form" in login_page_problem(oauth, None)
