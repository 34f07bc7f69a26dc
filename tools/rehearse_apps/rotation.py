"""`make rotate-db-password`, rehearsed: a new version of Airflow's database password, then
what its `cdktf deploy apps` applies, step by step, in the order the synthesized apps stack
gives (tools/db_password_rotation.py; where the stack leaves the order open, the order least
favourable to the invariant below).

1. The rotation script itself (`scripts/rotate_db_password.py --no-deploy`, as a separate
   process with moto as Secrets Manager) stores the new version.
2. The steps, as Terraform would apply them:
   - the role-bootstrap Job runs, reading the master and the new password from moto, and
     sets the password on the role in PostgreSQL; if it fails, the apply stops there
     (kubernetes_job_v1 with wait_for_completion fails, and Terraform applies nothing that
     depends on a failed resource);
   - each Secret built from the password is rewritten: the SecretFiller evaluates the
     stack's own expressions with the new value, as the next apply's ephemeral read would;
   - the release: Helm restarts every pod whose template carries the version annotation
     (PgBouncer and the Airflow components; not the chart's Jobs, whose templates never carry
     it) (`roll_out`).
3. After every step, the invariant: every password a Secret built from it holds is one the
   database has accepted by then. A consumer that learns a password before the database
   breaks it, and the rehearsal fails naming the step.

What it cannot show: a rolling update (new pod ready before the old one stops) and the
kubelet's delayed refresh of mounted Secrets; pods here are stopped, then started.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlparse

from tools.chart_render import REPO
from tools.db_password_rotation import Step, rotation_steps
from tools.rehearse_apps.pods import PodError

SCRIPT = REPO / "scripts" / "rotate_db_password.py"
STORED = re.compile(r"new version (\S+) of (\S+) is current")
USERS_TXT = re.compile(r'^"((?:[^"]|"")*)" "((?:[^"]|"")*)"$', re.M)


class RotationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Database:
    """Where the rehearsal's PostgreSQL (the RDS endpoint) listens, and Airflow's role."""

    host: str
    port: int
    name: str
    role: str

    def accepts(self, password: str) -> bool:
        import psycopg2

        try:
            psycopg2.connect(host=self.host, port=self.port, dbname=self.name, user=self.role, password=password,
                             sslmode="require", connect_timeout=5).close()
            return True
        except psycopg2.OperationalError as err:
            if "password authentication failed" in str(err):
                return False
            raise


def passwords_in(data: dict[str, str]) -> set[str]:
    """The passwords a Secret's data holds: in connection URLs, and in PgBouncer's users.txt."""
    found = set()
    for value in data.values():
        if "://" in value and "\n" not in value.strip():
            password = urlparse(value).password
            if password is not None:
                found.add(unquote(password))
        for _, password in USERS_TXT.findall(value):
            found.add(password.replace('""', '"'))
    return found


@dataclass
class Outcome:
    version: str
    ran: list[Step] = field(default_factory=list)
    failed: Step | None = None
    not_run: list[Step] = field(default_factory=list)


class PasswordRotation:
    def __init__(self, *, apps: dict, filler, secrets: dict[str, dict[str, str]], adapt: Callable[[dict], object],
                 database: Database, sm, script_env: dict[str, str], run_job: Callable[[str], None],
                 roll_out: Callable[[], None], say: Callable[[str], None], workdir: Path) -> None:
        self.apps, self.filler, self.secrets, self.adapt = apps, filler, secrets, adapt
        self.database, self.sm, self.script_env = database, sm, script_env
        self.run_job, self.roll_out, self.say, self.workdir = run_job, roll_out, say, workdir
        self.steps = rotation_steps(apps)
        self.password_secrets = [s.name for s in self.steps if s.kind == "secret"]
        self.learned: set[str] = set()  # passwords the database has accepted
        self._runs = 0

    def current_passwords(self) -> set[str]:
        return {p for name in self.password_secrets for p in passwords_in(self.secrets[name])}

    def store_new_version(self) -> tuple[str, str, str]:
        """Run the rotation script (no deploy): (version id, secret name, the new value as
        Secrets Manager now returns it)."""
        result = subprocess.run([sys.executable, str(SCRIPT), "--no-deploy"], cwd=REPO, env=self.script_env,
                                capture_output=True, text=True, timeout=120)
        stored = STORED.search(result.stdout)
        if result.returncode or not stored:
            raise RotationError(f"{SCRIPT.name} --no-deploy failed ({result.returncode}):\n"
                                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        version, name = stored.groups()
        value = self.sm.get_secret_value(SecretId=name)["SecretString"]
        if value in result.stdout + result.stderr:
            raise RotationError(f"{SCRIPT.name} printed the new password")
        return version, name, value

    def check(self, after: str) -> None:
        """Every password the Secrets built from it hold is one the database accepted already."""
        for name in self.password_secrets:
            for password in passwords_in(self.secrets[name]):
                if password in self.learned:
                    continue
                if not self.database.accepts(password):
                    raise RotationError(f"after {after}: Secret {name} holds a password the database does not "
                                        "accept: a consumer learned the new password before the database did")
                self.learned.add(password)

    def rotate(self, arn: str) -> Outcome:
        """Store a new version, then apply the steps in the stack's order until one fails."""
        self.check("the previous deploy")
        version, name, value = self.store_new_version()
        self.say(f"  {SCRIPT.name} --no-deploy: version {version} of {name} is current")
        # What the apply's ephemeral read returns: the Secrets' new content (written at their step).
        self._runs += 1
        self.filler.put_value(arn, value)
        new = self.filler.evaluate(self.workdir / f"secrets-rotation-{self._runs}")
        self.adapt(new)
        outcome = Outcome(version)
        for i, step in enumerate(self.steps):
            try:
                if step.kind == "job":
                    self.run_job(step.name)
                elif step.kind == "secret":
                    self.secrets[step.name] = new[step.name]
                else:
                    self.roll_out()
            except PodError as err:
                outcome.failed, outcome.not_run = step, self.steps[i + 1:]
                self.say(f"  {step.address}: FAILED, the apply stops here; not applied: "
                         + (", ".join(s.address for s in outcome.not_run) or "nothing"))
                self.say("    " + str(err).splitlines()[0])
                break
            outcome.ran.append(step)
            self.say(f"  {step.kind} {step.name}: applied")
            self.check(step.address)
        return outcome


@contextlib.contextmanager
def unreadable_secret(sm, secret_id: str, say: Callable[[str], None]):
    """INJECTED FAILURE (rehearsal only): the secret is gone while the block runs, as the
    bootstrap Job meets a master secret it may not read (issue 19, defect 1: AccessDenied);
    it is put back, with the same value, afterwards."""
    described = sm.describe_secret(SecretId=secret_id)
    value = sm.get_secret_value(SecretId=secret_id)["SecretString"]
    sm.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
    say(f"  INJECTED: the master secret {described['Name']} cannot be read (as AccessDenied would)")
    try:
        yield
    finally:
        sm.create_secret(Name=described["Name"], SecretString=value)


def script_env(base_env: dict[str, str], moto_endpoint: str, region: str) -> dict[str, str]:
    """The rotation script's environment: the project's default settings (as the rehearsal's
    synthesis), moto as Secrets Manager, no proxy."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIRFLOW_PLATFORM_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(base_env)
    env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",  # pragma: allowlist secret
                "AWS_DEFAULT_REGION": region, "AWS_REGION": region, "AWS_ENDPOINT_URL": moto_endpoint,
                "NO_PROXY": "*", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1"})
    return env
