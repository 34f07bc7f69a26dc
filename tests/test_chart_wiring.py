"""Every in-cluster address Airflow uses reaches a port that a Service offers, and every
Service port reaches a port that a container of its pods declares.

Read from the real chart rendered with the exact values the apps stack passes
(`helm template`), in both profiles, with and without HTTPS on the load balancer, and
from the Secrets the apps stack writes (connection URLs to PgBouncer and Redis). On the
cluster, a URL naming a port that its Service does not offer fails at run time only:
every task would fail while the deploy succeeds.
"""

from __future__ import annotations

import configparser
import re
from urllib.parse import urlsplit

from tools.chart_render import Rendered, pod_labels, pod_spec
from tf_json import resources

URL = re.compile(r"\b([a-z][a-z0-9+.-]*)://(?:[^@/\s]*@)?([a-z0-9.-]+):(\d+)")


def service_ports(rendered: Rendered) -> dict[str, dict[int, object]]:
    """Service name -> {port: targetPort}."""
    return {s["metadata"]["name"]: {p["port"]: p.get("targetPort", p["port"]) for p in s["spec"]["ports"]}
            for s in rendered.of_kind("Service")}


def selected_containers(rendered: Rendered, service: dict) -> list[dict]:
    selector = service["spec"].get("selector", {})
    return [c for w in rendered.workloads() if w["kind"] != "Job"
            and selector and selector.items() <= pod_labels(w).items() for c in pod_spec(w)["containers"]]


def in_cluster_addresses(rendered: Rendered, synthesized) -> list[tuple[str, str, int]]:
    """(where, host, port) of every URL or host/port pair in airflow.cfg, container env and
    the Terraform-built Secrets that names a host of this release."""
    found = []
    cfg = rendered.airflow_cfg()
    for section in cfg.sections():
        for key, value in cfg.items(section):
            found += [(f"airflow.cfg [{section}] {key}", host, int(port)) for _, host, port in URL.findall(value)]
    found += _host_port_pairs(cfg)
    for workload in rendered.workloads():
        spec = pod_spec(workload)
        for container in spec.get("initContainers", []) + spec["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            where = f"{workload['kind']} {workload['metadata']['name']} {container['name']}"
            for name, value in env.items():
                found += [(f"{where} env {name}", h, int(p)) for _, h, p in URL.findall(value or "")]
            if env.get("AIRFLOW__METRICS__STATSD_HOST") and env.get("AIRFLOW__METRICS__STATSD_PORT"):
                found.append((f"{where} env AIRFLOW__METRICS__STATSD_*", env["AIRFLOW__METRICS__STATSD_HOST"],
                              int(env["AIRFLOW__METRICS__STATSD_PORT"])))
    for secret in resources(synthesized.apps, "kubernetes_secret_v1").values():
        data = secret.get("data") or secret.get("data_wo") or {}
        for key, value in data.items():
            text = re.sub(r"\$\{[^{}]*(\{[^{}]*\}[^{}]*)*\}", "x", value)  # a Terraform expression: some value
            found += [(f"Secret {secret['metadata']['name']} {key}", h, int(p)) for _, h, p in URL.findall(text)]
    release = rendered.release_name
    return [(where, host, port) for where, host, port in found if host.split(".")[0].startswith(f"{release}-")]


def _host_port_pairs(cfg: configparser.ConfigParser) -> list[tuple[str, str, int]]:
    pairs = []
    for section in cfg.sections():
        keys = dict(cfg.items(section))
        for key, value in keys.items():
            if key.endswith("_host") and f"{key[:-5]}_port" in keys:
                pairs.append((f"airflow.cfg [{section}] {key}", value, int(keys[f"{key[:-5]}_port"])))
    return pairs


def test_every_in_cluster_address_reaches_a_service_port(rendered_variant):
    variant, synthesized, rendered = rendered_variant
    ports = service_ports(rendered)
    addresses = in_cluster_addresses(rendered, synthesized)
    assert any("execution_api_server_url" in where for where, _, _ in addresses), "the execution API URL is read"
    assert {host.split(".")[0] for _, host, _ in addresses} >= {"airflow-api-server", "airflow-pgbouncer",
                                                                  "airflow-redis", "airflow-statsd"}
    wrong = [f"{where}: {host}:{port} (Service offers {sorted(ports.get(host.split('.')[0], {})) or 'nothing'})"
             for where, host, port in addresses if port not in ports.get(host.split(".")[0], {})]
    assert not wrong, f"{variant}: addresses no Service offers:\n" + "\n".join(wrong)


def test_every_service_target_port_is_declared_by_its_pods(rendered_variant):
    variant, _, rendered = rendered_variant
    problems = []
    for service in rendered.of_kind("Service"):
        containers = selected_containers(rendered, service)
        name = service["metadata"]["name"]
        if not containers:
            problems.append(f"{name} selects no pod")
            continue
        declared = [(p.get("name"), p["containerPort"]) for c in containers for p in c.get("ports", [])]
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            if not any(target in pair for pair in declared):
                problems.append(f"{name} port {port['port']} -> targetPort {target!r}; its pods declare {declared}")
    assert not problems, f"{variant}:\n" + "\n".join(problems)


def test_the_execution_api_url_is_the_api_server_service(rendered_variant):
    """The URL every task's supervisor is handed: the API server's Service, on a port it offers."""
    variant, _, rendered = rendered_variant
    url = urlsplit(rendered.airflow_cfg()["core"]["execution_api_server_url"])
    assert (url.hostname, url.path) == (f"{rendered.release_name}-api-server", "/execution/"), variant
    assert url.port in service_ports(rendered)[url.hostname], variant


def test_pgbouncer_serves_the_databases_airflow_asks_for(rendered_variant):
    """The database names in the connection URLs are [databases] entries of pgbouncer.ini,
    and PgBouncer listens on the port its container declares."""
    variant, synthesized, rendered = rendered_variant
    secrets = {s["metadata"]["name"]: (s.get("data") or s.get("data_wo") or {})
               for s in resources(synthesized.apps, "kubernetes_secret_v1").values()}
    [ini] = [data["pgbouncer.ini"] for data in secrets.values() if "pgbouncer.ini" in data]
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(ini)
    databases = set(parser["databases"])
    for name in ("airflow-metadata", "airflow-result-backend"):
        connection = secrets[name]["connection"]
        database = re.search(r"@airflow-pgbouncer[^/]*/([^?]+)", connection).group(1)
        assert database in databases, f"{variant}: {name} asks PgBouncer for {database}; it serves {databases}"
    pgbouncer = rendered.get("Deployment", f"{rendered.release_name}-pgbouncer")
    [container] = [c for c in pod_spec(pgbouncer)["containers"] if c["name"] == "pgbouncer"]
    assert int(parser["pgbouncer"]["listen_port"]) in [p["containerPort"] for p in container["ports"]]
    # Transaction pooling with psycopg 3's named prepared statements needs PgBouncer to track them.
    assert parser["pgbouncer"]["pool_mode"] == "transaction"
    assert int(parser["pgbouncer"].get("max_prepared_statements", "0")) > 0, variant
