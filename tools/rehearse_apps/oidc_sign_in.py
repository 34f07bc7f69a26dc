"""The API server signing in through an OIDC provider, and the local sign-in without one.

With a provider: the chart is rendered again with the apps stack's sign-in values
(`airflow_platform.oidc_sign_in.chart_values`, the same function AirflowRelease calls), and a
second API server starts from that render's pod (its webserver_config.py mounted from the
chart's ConfigMap, the client secret from the Secret by env), on an address of its own beside
the running one. Its login page must offer the provider, and asking to sign in with it must
fetch the provider's discovery document and redirect to the authorization endpoint named
there, with this client id.

Stand-in, and where it differs from a real provider (OpenID Connect Discovery 1.0, section 4;
Core 1.0, section 2): the stub on loopback serves the discovery document only, over http. A real
issuer must be https, which settings require (ui_access_rules.OIDC_ISSUER_RE), so the rehearsal
builds `OidcSignIn` itself. No code is exchanged and no ID token issued: the token checks
(authlib) and the group-to-role mapping are not exercised here; tests/test_oidc_sign_in.py runs
the mapping against FAB's own class.

Without a provider (the dev profile the rehearsal deploys): the login page is FAB's password
form, and the created admin signs in (run.py, `ApiClient.sign_in`).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlparse

import yaml

from airflow_platform.oidc_sign_in import (
    CLIENT_SECRET_KEY, KUBERNETES_SECRET, PROVIDER_NAME, OidcSignIn, chart_values,
)
from tools.chart_render import Rendered, TerraformValues, render_release
from tools.rehearse_apps.pods import PodFactory, Process
from tools.rehearse_apps.traffic import TrafficError

API_SERVER = "airflow-api-server"
CLIENT_ID = "rehearsal-client"
LOGIN_PATH = "/auth/login/"


class StubProvider:
    """An OIDC discovery document at `<issuer>/.well-known/openid-configuration`; counts its fetches."""

    def __init__(self, address: str) -> None:
        stub = self
        self.fetches = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path != "/.well-known/openid-configuration":
                    self.send_error(404)
                    return
                stub.fetches += 1
                body = json.dumps(stub.document()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.issuer = f"http://{address}:{self.server.server_address[1]}"

    def document(self) -> dict:
        # The fields Discovery 1.0 section 3 marks REQUIRED, and the userinfo endpoint FAB may call.
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo", "response_types_supported": ["code"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]}

    def start(self) -> StubProvider:
        threading.Thread(target=self.server.serve_forever, name="oidc-stub", daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 302 itself is the answer


def _get(url: str, timeout: float = 10):
    """(status, body, headers); headers look up names case-insensitively (uvicorn sends them lowercase)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace"), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace"), err.headers


def login_page_problem(html: str, provider: str | None) -> str | None:
    """What is wrong with FAB's login page (flask_appbuilder templates login_oauth.html / login_db.html)."""
    if provider is None:
        if "btn-signin-" in html or 'name="password"' not in html:
            return "without a provider the login page is not FAB's password form"
        return None
    if f'id="btn-signin-{provider}"' not in html:
        return f"the login page does not offer the provider {provider!r}"
    return None


def render_with_provider(release: dict, values: TerraformValues, kube_version: str, sign_in: OidcSignIn) -> Rendered:
    """The chart with the apps stack's sign-in values on top (the Secret by its literal name)."""
    extra = yaml.safe_dump(chart_values(sign_in, KUBERNETES_SECRET), sort_keys=True)
    return render_release({**release, "values": [*release["values"], extra]}, values, kube_version=kube_version)


class ProviderSignIn:
    """The second API server with a provider: `start` (render, stub, process) returns at once;
    `check` waits for its login page and checks the sign-in."""

    def __init__(self, *, release: dict, values: TerraformValues, kube_version: str,
                 secrets: dict[str, dict[str, str]], base: Path, base_env: dict[str, str],
                 airflow_files: dict[str, str], extra_env: dict[str, str], address: str) -> None:
        self.args = dict(release=release, values=values, kube_version=kube_version, secrets=secrets, base=base,
                         base_env=base_env, airflow_files=airflow_files, extra_env=extra_env)
        self.address = address
        self.stub: StubProvider | None = None
        self.process: Process | None = None

    def start(self) -> ProviderSignIn:
        a = self.args
        self.stub = StubProvider(self.address).start()
        sign_in = OidcSignIn(issuer_url=self.stub.issuer, client_id=CLIENT_ID, client_secret_id="(rehearsal)",
                             role_mappings=("airflow-admins=Admin",))
        rendered = render_with_provider(a["release"], a["values"], a["kube_version"], sign_in)
        with_secret = {**a["secrets"], KUBERNETES_SECRET: {CLIENT_SECRET_KEY: "rehearsal-client-secret"}}  # pragma: allowlist secret
        pods = PodFactory(rendered, with_secret, a["base"], base_env=a["base_env"], airflow_files=a["airflow_files"])
        self.container = pods.container("Deployment", API_SERVER, "api-server",
                                        extra_env={**a["extra_env"], "AIRFLOW__API__HOST": self.address})
        self.process = Process(self.container)
        return self

    def check(self, check: Callable[[], None], say: Callable[[str], None], timeout: float = 150) -> None:
        stub, process = self.stub, self.process
        assert stub is not None and process is not None, "start() first"
        port = int(self.container.env.get("AIRFLOW__API__PORT", "8080"))
        url = f"http://{self.address}:{port}"
        deadline = time.monotonic() + timeout
        status, html = 0, ""
        while time.monotonic() < deadline:
            check()
            if not process.alive():
                raise TrafficError(f"the API server with a provider exited:\n{process.log_tail()}")
            try:
                status, html, _ = _get(url + LOGIN_PATH)
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(1)
        if status != 200:
            raise TrafficError(f"the API server with a provider did not answer {LOGIN_PATH} within {timeout:.0f} s")
        problem = login_page_problem(html, PROVIDER_NAME)
        if problem:
            raise TrafficError(problem)
        status, _, headers = _get(f"{url}{LOGIN_PATH}{PROVIDER_NAME}")
        location = urlparse(headers.get("Location", ""))
        query = parse_qs(location.query)
        if status != 302 or f"{location.scheme}://{location.netloc}{location.path}" != f"{stub.issuer}/authorize" \
                or query.get("client_id") != [CLIENT_ID] or stub.fetches < 1:
            raise TrafficError(f"signing in with {PROVIDER_NAME} answered {status} to {headers.get('Location')!r} "
                               f"after {stub.fetches} fetch(es) of the discovery document")
        say(f"  the login page offers {PROVIDER_NAME}; it redirects to {stub.issuer}/authorize with client_id "
            f"{CLIENT_ID} after fetching the discovery document")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=2)  # a throwaway server: no graceful shutdown to wait for
        if self.stub is not None:
            self.stub.stop()
