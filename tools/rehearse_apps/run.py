"""The rehearsal, phase by phase (see the package docstring)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from tools.chart_render import REPO, Rendered, TerraformValues, container_env, render_release
from tools.db_password_rotation import version_annotations
from tools.rehearse_apps.adaptations import adapt
from tools.rehearse_apps.components import Components
from tools.rehearse_apps.oidc_sign_in import LOGIN_PATH, ProviderSignIn, login_page_problem
from tools.rehearse_apps.phases import Clock, raise_on_sigterm
from tools.rehearse_apps import pipeline_secrets
from tools.rehearse_apps.pods import PodFactory
from tools.rehearse_apps.rotation import Database, PasswordRotation, script_env, unreadable_secret
from tools.rehearse_apps.secret_values import SecretFiller
from tools.rehearse_apps.stack_jobs import stack_manifests
from tools.rehearse_apps.servers import check_installed, start_postgres
from tools.rehearse_apps.traffic import ApiClient, TrafficError, check_remote_logs, measure
from tools.rehearse_apps.wiring import (Forwarders, UdpSink, WiringError, inside_namespace, namespace_problem,
                                        plan, reexec_inside, set_up_namespace)
from tools.team_requirements import install as install_requirements, with_pythonpath

VENV_BIN = REPO / ".venv" / "bin"
DATABASE_ADDRESS = "127.0.2.1"  # the RDS endpoint's name resolves here
OIDC_ADDRESS = "127.0.4.1"  # the stub OIDC provider and the API server that signs in through it
ADMIN_USERNAME = "admin"
FAILURES = (Exception,)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.rehearse_apps", description=__doc__)
    parser.add_argument("--stacks", type=Path, help="a synthesized outdir (stacks/{infra,apps}/cdk.tf.json); "
                        "default: synthesize the dev profile")
    parser.add_argument("--runs", type=int, default=50, help="runs of the BashOperator sample for the throughput")
    parser.add_argument("--throughput-dag", default="example_empty_then_bash")
    parser.add_argument("--statsd-capture", type=Path, help="write what Airflow sent to StatsD here (JSON: "
                        "the lines with their arrival times, and when the scheduler was stopped)")
    parser.add_argument("--deadline", type=float, default=540, help="seconds the run may take before cleanup "
                        "(6 minutes on 2 cores, 1 more for the two password rotations, and 2 for the team's "
                        "packages, the Secrets Manager lookups, the OIDC sign-in and the stopped scheduler)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if not inside_namespace():
        problem = namespace_problem()
        if problem:
            print(f"rehearse-apps: cannot run: {problem}", flush=True)
            return 2
        # The team's packages (requirements.txt), for every Airflow process: installed now, while the
        # network is there (the namespace has none), into a cache folder put on PYTHONPATH.
        started = time.monotonic()
        packages = install_requirements()
        os.environ.update(with_pythonpath(dict(os.environ), packages))
        print(f"rehearse-apps: requirements.txt on PYTHONPATH from {packages} "
              f"({time.monotonic() - started:.1f} s)", flush=True)
        return reexec_inside(argv)
    return Rehearsal(args).run()


def load_stacks(outdir: Path) -> tuple[dict, dict]:
    return tuple(json.loads((outdir / "stacks" / s / "cdk.tf.json").read_text()) for s in ("infra", "apps"))


def synthesize_dev(outdir: Path) -> None:
    from airflow_platform.app import synthesize
    from airflow_platform.settings import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_PLATFORM_")}
    synthesize(load_settings(environ=env), outdir)


def eks_version(infra: dict) -> str:
    [cluster] = infra["resource"]["aws_eks_cluster"].values()
    return f"{cluster['version']}.0"


class Rehearsal:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.clock = Clock()
        self.stack = contextlib.ExitStack()
        self.figures: dict[str, str] = {}

    def run(self) -> int:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C cleans up, even if started ignoring it
        raise_on_sigterm()
        code = 1
        try:
            self._run()
            code = 0
        except KeyboardInterrupt as err:
            self.clock.say(f"INTERRUPTED ({err or 'Ctrl-C'}): cleaning up")
            code = 130
        except FAILURES as err:
            self.clock.say(f"REHEARSAL FAILED: {type(err).__name__}: {err}")
            components = getattr(self, "components", None)
            if components is not None and components.processes:
                self.clock.say("errors in the components' output:\n" + (components.error_lines() or "  (none)"))
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second Ctrl-C must not cut cleanup short
                signal.signal(sig, signal.SIG_IGN)
            with self.clock.phase("clean up"):
                self.stack.close()
            self.clock.say(f"rehearsal {'PASSED' if code == 0 else 'FAILED'} in {self.clock.elapsed():.1f}s")
        return code

    def check(self) -> None:
        self.components.check_alive()
        if self.clock.elapsed() > self.args.deadline:
            raise TrafficError(f"the rehearsal passed its deadline of {self.args.deadline:.0f} s")

    def _run(self) -> None:
        clock, stack = self.clock, self.stack
        with clock.phase("check the servers are installed"):
            check_installed(VENV_BIN / "airflow")
        base = Path(tempfile.mkdtemp(prefix="rehearse-apps-"))
        stack.callback(shutil.rmtree, base, True)

        with clock.phase("synthesize and render the chart"):
            outdir = self.args.stacks
            if outdir is None:
                outdir = base / "synth"
                synthesize_dev(outdir)
            infra, apps = load_stacks(outdir)
            [release] = [r for r in apps["resource"]["helm_release"].values() if r["chart"] == "airflow"]
            values = TerraformValues({"infra": infra, "apps": apps})
            rendered = render_release(release, values, kube_version=eks_version(infra))
            clock.say(f"  {len(rendered.manifests)} objects, {len(rendered.workloads())} workloads")
            own = stack_manifests(apps, values)  # the apps stack's own Jobs (and their ConfigMaps, ServiceAccounts)
            rendered.manifests += own
            stack_jobs = [m["metadata"]["name"] for m in own if m["kind"] == "Job"]
            if stack_jobs:
                clock.say(f"  and the apps stack's own jobs: {', '.join(stack_jobs)}")

        with clock.phase("fill the Secrets with test values (terraform)"):
            filler = SecretFiller(infra, apps)
            secrets = filler.evaluate(base / "secrets-terraform")
            clock.say(f"  {len(secrets)} Secrets: {', '.join(sorted(secrets))}")
            adaptations = adapt(secrets)
            for note in adaptations.notes:
                clock.say("  " + note)

        with clock.phase("wire Services to loopback in a private namespace"):
            wiring = plan(rendered)
            [db] = [name for name in infra["resource"]["aws_db_instance"]]
            db_host = values.resolve("${aws_db_instance." + db + ".address}", "infra")
            db_port = int(values.resolve("${aws_db_instance." + db + ".port}", "infra"))
            wiring.extra_hosts[db_host] = DATABASE_ADDRESS
            (base / "hosts").write_text(wiring.hosts_file())
            set_up_namespace(base / "hosts")
            stack.callback(Forwarders(wiring).start().stop)
            for service in wiring.services:
                clock.say(f"  {service.name} -> {service.address} "
                          + ", ".join(f"{p.port}/{p.protocol}->{p.target_port}" for p in service.ports)
                          + (" (forwarded)" if service.forwarded else ""))
            # A hint only: the run itself must fail on such a URL, as the cluster would.
            for url in _urls(rendered, secrets):
                problem = wiring.url_problem(url)
                if problem:
                    clock.say(f"  WARNING: {problem}")
            runnable_pods = {w["metadata"]["name"] for w in rendered.workloads()} - {"airflow-statsd"}
            self.statsd_sinks: list[UdpSink] = []
            self.scheduler_stopped_at: float | None = None
            stack.callback(self._write_statsd_capture)  # also after a failure: what was sent until then
            for service in wiring.services:
                if service.pod not in runnable_pods:
                    for p in service.ports:
                        if p.protocol == "UDP":
                            sink = UdpSink(service.address, p.target_port, keep=True, clock=clock.elapsed).start()
                            stack.callback(sink.stop)
                            self.statsd_sinks.append(sink)

        with clock.phase("start PostgreSQL (TLS required) and moto (S3)"):
            master = filler.master_secret()
            [db_config] = infra["resource"]["aws_db_instance"].values()
            pg = start_postgres(base / "postgres", DATABASE_ADDRESS, db_port, master["username"], master["password"],
                                db_config.get("db_name", "postgres"))
            stack.callback(pg.stop)
            from tools.emulator.moto_server import MotoServer

            moto = MotoServer(base / "moto.log").start()
            stack.callback(moto.stop)
            cfg = rendered.airflow_cfg()
            remote = urlparse(cfg.get("logging", "remote_base_log_folder"))
            region = _region(infra)
            s3 = _s3(moto.endpoint, region)
            s3.create_bucket(Bucket=remote.netloc)
            # Secrets Manager as jobs with an IAM role read it: the RDS master secret, and what
            # Terraform writes into secrets of its own (at the ARNs the manifests name).
            sm = _client("secretsmanager", moto.endpoint, region)
            for arn, value in {filler.master_secret_arn(): json.dumps(master), **filler.store}.items():
                sm.create_secret(Name=_secret_name(arn), SecretString=value)
            # What the team adds: the orders pipeline's connection and variable, where the workers look.
            orders_base_path = pipeline_secrets.worker_base_path(rendered)
            pipeline = pipeline_secrets.seed(sm, _client("kms", moto.endpoint, region),
                                             pipeline_secrets.worker_prefixes(rendered), _secrets_key_alias(infra),
                                             orders_base_path)
            clock.say(f"  seeded {', '.join(pipeline.values())}")

        irsa = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": region,  # pragma: allowlist secret
                "AWS_REGION": region, "AWS_ENDPOINT_URL": moto.endpoint}
        extra_env = {}
        for workload in rendered.workloads():
            name = workload["metadata"]["name"]
            if _has_role(rendered, workload):
                extra_env[name] = dict(irsa)
            if _runs_airflow(workload):
                extra_env.setdefault(name, {}).update(adaptations.airflow_env)
        api_service = next(s for s in wiring.services if s.pod and "api-server" in s.pod)
        # The API server's pod address: where a pod listens (its Service forwards to it).
        extra_env.setdefault(api_service.pod, {})["AIRFLOW__API__HOST"] = wiring.pod_address[api_service.pod]

        base_env = {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", "HOME": "/tmp"}
        if os.environ.get("PYTHONPATH"):  # requirements.txt (main()), and a dependency tried before relocking
            base_env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        pods = PodFactory(rendered, secrets, base, base_env=base_env, airflow_files=adaptations.airflow_files)
        self.components = components = Components(rendered, pods, REPO, extra_env=extra_env)
        stack.callback(components.stop)
        servers = [(w["kind"], w["metadata"]["name"]) for w in rendered.workloads()
                   if w["metadata"]["name"] in ("airflow-pgbouncer", "airflow-redis")]
        airflow_pods = [(w["kind"], w["metadata"]["name"]) for w in rendered.workloads()
                        if w["kind"] != "Job" and w["metadata"]["name"] in runnable_pods and (w["kind"], w["metadata"]["name"]) not in servers]

        with clock.phase("start PgBouncer and Redis from their rendered pods"):
            components.start_all(servers)
            for service in ("airflow-pgbouncer", "airflow-redis"):
                s = wiring.service(service)
                _wait_port(service, s.ports[0].port, 20, components.check_alive)

        with clock.phase("run the " + ", ".join(stack_jobs + ["migrate-database", "create-user"]) + " jobs"):
            for name in stack_jobs:  # the apps stack applies them before the chart
                components.run_job(name)
            components.jobs()

        api = ApiClient(wiring.url(api_service.name))
        with clock.phase("start " + ", ".join(n for _, n in airflow_pods)):
            components.start_all(airflow_pods)
            api.wait_healthy(180, self.check)

        dag_ids = sorted(p.stem for p in (REPO / "dags").glob("*.py")
                         if "dag_id" in p.read_text() or "DAG_ID" in p.read_text())
        dag_ids = [_dag_id(REPO / "dags" / f"{d}.py") for d in dag_ids]
        with clock.phase(f"sign in as {ADMIN_USERNAME}, wait for the DAGs {', '.join(dag_ids)}"):
            password = _admin_password(rendered, secrets)
            api.sign_in(ADMIN_USERNAME, password)
            for dag_id in dag_ids:
                api.wait_dag(dag_id, 120, self.check)
                api.unpause(dag_id)
            clock.say(f"  StatsD so far: {sum(s.datagrams for s in self.statsd_sinks)} datagrams")

        first: dict[str, float] = {}
        with clock.phase("trigger each DAG once and wait for success"):
            for dag_id in dag_ids:
                api.trigger(dag_id)
            for dag_id in dag_ids:  # every run: the triggered one, and one a schedule created on unpause
                runs = api.wait_runs(dag_id, None, 240, self.check,
                                     on_first_success=lambda d: first.setdefault("t", clock.elapsed()))
                clock.say(f"  {dag_id}: {len(runs)} run(s) succeeded")
                if dag_id == pipeline_secrets.DAG_ID:
                    clock.say("  " + pipeline_secrets.check_read_from_secrets_manager(api, set(runs), orders_base_path))
            self.figures["first successful DAG run"] = f"{first['t']:.1f} s after start"

        # Not started beside the DAG runs: on 2 busy cores its start-up starved the running API server.
        with clock.phase("sign-in pages: the password form without a provider; a second API server with an "
                         "OIDC provider (a stub on loopback)"):
            problem = login_page_problem(api.get_page(LOGIN_PATH), None)
            if problem:
                raise TrafficError(problem)
            provider_sign_in = ProviderSignIn(
                release=release, values=values, kube_version=eks_version(infra), secrets=secrets,
                base=base / "oidc", base_env=base_env, airflow_files=adaptations.airflow_files,
                extra_env=extra_env.get(api_service.pod, {}), address=OIDC_ADDRESS)
            stack.callback(provider_sign_in.stop)
            provider_sign_in.start().check(self.check, clock.say)
            provider_sign_in.stop()

        # `make rotate-db-password`, twice: applied in the stack's order, then with a failing Job.
        [bootstrap] = [n for n in stack_jobs if "AIRFLOW_DB_PASSWORD_SECRET_ARN" in _job_env(rendered, n)]
        job_env = _job_env(rendered, bootstrap)
        keys = version_annotations(apps)
        roll_out = [w for w in rendered.workloads() if w["metadata"]["name"] not in stack_jobs
                    and keys & set(w["spec"]["template"]["metadata"].get("annotations") or {})]

        def restart_release() -> None:
            """What Helm does on the changed pod annotation: new pods for every workload that
            carries it, and the chart's jobs created anew."""
            pods = [(w["kind"], w["metadata"]["name"]) for w in roll_out
                    if w["kind"] != "Job" and w["metadata"]["name"] in runnable_pods]
            clock.say("  helm upgrade: restarting " + ", ".join(n for _, n in pods))
            components.stop_pods({n for _, n in pods})
            restarted_servers = [p for p in pods if p in servers]
            components.start_all(restarted_servers)
            for _, name in restarted_servers:
                _wait_port(name, wiring.service(name).ports[0].port, 20, components.check_alive)
            if any(w["kind"] == "Job" for w in roll_out):
                components.jobs()
            components.start_all([p for p in pods if p not in servers])
            api.wait_healthy(180, self.check)

        def run_dags(what: str) -> None:
            runs = {dag_id: api.trigger(dag_id) for dag_id in dag_ids}
            for dag_id, run_id in runs.items():
                api.wait_runs(dag_id, {run_id}, 180, self.check)
            clock.say(f"  {', '.join(dag_ids)}: a run each succeeded {what}")

        database = Database(DATABASE_ADDRESS, db_port, job_env["DB_NAME"], job_env["AIRFLOW_DB_ROLE"])
        rotation = PasswordRotation(
            apps=apps, filler=filler, secrets=secrets, adapt=adapt, database=database, sm=sm,
            script_env=script_env(base_env, moto.endpoint, region), say=clock.say, workdir=base,
            run_job=components.run_job, roll_out=restart_release)
        password_arn = job_env["AIRFLOW_DB_PASSWORD_SECRET_ARN"]
        with clock.phase("rotate the database password (make rotate-db-password), in the stack's order: "
                         + ", then ".join(dict.fromkeys(s.kind for s in rotation.steps))):
            old = rotation.current_passwords()
            outcome = rotation.rotate(password_arn)
            if outcome.failed:
                raise TrafficError(f"the rotation failed at {outcome.failed.address}")
            rotated = rotation.current_passwords()
            if rotated & old or not all(database.accepts(p) for p in rotated) or any(database.accepts(p) for p in old):
                raise TrafficError("after the rotation the database and the Secrets do not hold the new password alone")
            run_dags("on the new password")

        with clock.phase("a rotation whose bootstrap Job fails: nothing after it changes"):
            before = rotation.current_passwords()
            with unreadable_secret(sm, job_env["MASTER_SECRET_ARN"], clock.say):
                outcome = rotation.rotate(password_arn)
            if outcome.failed is None or outcome.failed.kind != "job" or outcome.ran:
                raise TrafficError(f"expected the Job, first, to fail; ran {[s.address for s in outcome.ran]}")
            if rotation.current_passwords() != before:
                raise TrafficError("a failed rotation changed the Secrets")
            pgbouncer = [p for p in servers if p[1] == "airflow-pgbouncer"]
            clock.say("  restarting PgBouncer from its Secret (any pod restart, e.g. a node drain)")
            components.stop_pods({n for _, n in pgbouncer})
            components.start_all(pgbouncer)
            _wait_port("airflow-pgbouncer", wiring.service("airflow-pgbouncer").ports[0].port, 20, components.check_alive)
            run_dags("on the old password")
            if not all(database.accepts(p) for p in before):
                raise TrafficError("after a failed rotation the database refuses the old password")
            clock.say("  the database still accepts the old password; the new version waits for the next deploy")

        with clock.phase(f"throughput: {self.args.runs} runs of {self.args.throughput_dag} at once"):
            concurrency = cfg.get("celery", "worker_concurrency", fallback="?")
            result = measure(api, self.args.throughput_dag, self.args.runs, 300, self.check)
            self.figures["throughput"] = f"{result} (worker_concurrency {concurrency})"

        with clock.phase(f"check task logs in {remote.geturl()}"):
            for dag_id in dag_ids:  # every run, including any a schedule added meanwhile, succeeded
                api.wait_runs(dag_id, None, 120, self.check)
            n = check_remote_logs(api, dag_ids, s3, remote.netloc, remote.path.lstrip("/"))
            self.figures["remote logs"] = f"{n} task logs in s3://{remote.netloc}{remote.path}"

        # The failed try stays in the DAG's history, where wait_runs would count it: after the
        # throughput and the logs. It is also the failed task the failure alert counts (ti_failures).
        with clock.phase("the orders pipeline without its connection's secret (a task fails: ti_failures)"):
            self.figures["failed task"] = pipeline_secrets.check_missing_connection_fails(
                api, sm, pipeline["connection"], 90, self.check)
            clock.say("  " + self.figures["failed task"])

        # Last: nothing is scheduled after it.
        with clock.phase("stop the scheduler: its heartbeat stops reaching StatsD"):
            self.figures["scheduler heartbeat"] = self._stop_scheduler(rendered)

        self.clock.say("SUMMARY")
        for phase, seconds in clock.durations.items():
            self.clock.say(f"  {seconds:7.1f}s  {phase}")
        for name, figure in self.figures.items():
            self.clock.say(f"  {name}: {figure}")


    def _stop_scheduler(self, rendered: Rendered) -> str:
        """A dead scheduler as the alert sees it: heartbeats arrived until the stop, none after.
        The capture (--statsd-capture) carries the series the alert rules are tested on."""
        from tools.rehearse_apps.statsd_capture import HEARTBEAT, heartbeats_between

        cfg = rendered.airflow_cfg()
        interval = float(cfg.get("scheduler", "scheduler_heartbeat_sec", fallback="5"))
        lines = lambda: [line for sink in self.statsd_sinks for line in sink.lines]  # noqa: E731
        before = heartbeats_between(lines(), self.clock.elapsed() - 6 * interval, self.clock.elapsed())
        if not before:
            raise TrafficError(f"no {HEARTBEAT} reached StatsD in the last {6 * interval:.0f} s before the stop "
                               "(Airflow sends none without the `statsd` package, which the apache/airflow "
                               "image carries: is it in the environment?)")
        scheduler = next(w["metadata"]["name"] for w in rendered.workloads() if w["metadata"]["name"].endswith("-scheduler"))
        self.components.stop_pods({scheduler})
        stopped = self.clock.elapsed()
        time.sleep(3 * interval)
        after = heartbeats_between(lines(), stopped, self.clock.elapsed())
        if after:
            raise TrafficError(f"{after} {HEARTBEAT} lines reached StatsD after the scheduler stopped")
        self.scheduler_stopped_at = stopped
        return (f"{before} heartbeats in the {6 * interval:.0f} s before the stop at {stopped:.1f} s, "
                f"none in the {3 * interval:.0f} s after")


    def _write_statsd_capture(self) -> None:
        if self.args.statsd_capture:
            lines = [line for sink in self.statsd_sinks for line in sink.lines]
            self.args.statsd_capture.write_text(json.dumps({"scheduler_stopped_at": self.scheduler_stopped_at,
                                                            "lines": lines}))


def _secrets_key_alias(infra: dict) -> str:
    """The alias of the platform's secrets key (AirflowSecretStore), as the infra stack names it."""
    [alias] = [a["name"] for a in infra["resource"]["aws_kms_alias"].values() if a["name"].endswith("-airflow-secrets")]
    return alias


def _secret_name(arn: str) -> str:
    """The name a secret has in moto: what a (partial) ARN names, or the stand-in string itself."""
    return arn.split(":secret:", 1)[1] if ":secret:" in arn else arn


def _job_env(rendered: Rendered, name: str) -> dict[str, str]:
    return container_env(rendered.get("Job", name))


def _urls(rendered: Rendered, secrets: dict[str, dict[str, str]]) -> list[str]:
    import re

    cfg = rendered.airflow_cfg()
    texts = [value for section in cfg.sections() for _, value in cfg.items(section)]
    texts += [value for data in secrets.values() for value in data.values()]
    return sorted({m.group(0) for text in texts for m in re.finditer(r"[a-z][a-z0-9+]*://[^\s\"',]+", text)})


def _dag_id(path: Path) -> str:
    import re

    text = path.read_text()
    match = re.search(r'dag_id="([^"]+)"', text) or re.search(r'DAG_ID = "([^"]+)"', text)
    return match.group(1)


def _admin_password(rendered: Rendered, secrets: dict[str, dict[str, str]]) -> str:
    job = next(j for j in rendered.of_kind("Job") if "create-user" in j["metadata"]["name"])
    for container in job["spec"]["template"]["spec"]["containers"]:
        for env in container.get("env", []):
            if env["name"] == "AIRFLOW_ADMIN_PASSWORD":
                ref = env["valueFrom"]["secretKeyRef"]
                return secrets[ref["name"]][ref["key"]]
    raise TrafficError("the create-user job has no AIRFLOW_ADMIN_PASSWORD")


def _has_role(rendered: Rendered, workload: dict) -> bool:
    account = workload["spec"]["template"]["spec"].get("serviceAccountName")
    if not account:
        return False
    found = [a for a in rendered.of_kind("ServiceAccount") if a["metadata"]["name"] == account]
    return bool(found and "eks.amazonaws.com/role-arn" in (found[0]["metadata"].get("annotations") or {}))


def _runs_airflow(workload: dict) -> bool:
    spec = workload["spec"]["template"]["spec"]
    return any(e.get("name") == "AIRFLOW_HOME" for c in spec.get("initContainers", []) + spec["containers"]
               for e in c.get("env", []))


def _region(infra: dict) -> str:
    providers = infra.get("provider", {}).get("aws", [{}])
    return providers[0].get("region", "us-east-1")


def _s3(endpoint: str, region: str):
    return _client("s3", endpoint, region)


def _client(service: str, endpoint: str, region: str):
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=endpoint, region_name=region, aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(proxies={}))  # pragma: allowlist secret


def _wait_port(host: str, port: int, timeout: float, check) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise WiringError(f"nothing answers on {host}:{port} after {timeout:.0f} s")
