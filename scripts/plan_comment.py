#!/usr/bin/env python3
"""Plan the synthesized stacks of a pull request and keep one comment per stack on it.

Used by .github/workflows/plan.yml after `make synth`; standard library only.

    plan_comment.py plan    --results FILE infra apps   terraform init + plan in cdktf.out/stacks/<stack>
    plan_comment.py comment --results FILE              create or update one comment per stack
    plan_comment.py comment --results FILE --out-dir D  or write them to D/<stack>.md (plan.yml posts them)
    plan_comment.py check   --results FILE              exit 1 if a plan genuinely failed

Each comment starts with a hidden marker (`<!-- airflow-platform-plan:<stack> -->`), so a
later push updates the same comment instead of adding another one. Plans longer than
COLLAPSE_LINES are folded in <details>, and the body is cut 2,048 characters below GitHub's
65,536-character limit with a note saying so (the full plan is always in the job log).
Secret ids (`[id=...]` of Secrets Manager and random_password addresses) are masked as
soon as terraform has answered, so no log, file or comment holds them.

A stack listed after another reads that stack's outputs (cdktf cross-stack references go
through a terraform_remote_state data source). Until the earlier stack has been applied,
those outputs do not exist and the later plan fails; that is reported as "waiting for
<stack>" and does not fail `check`, as long as the earlier stack planned fine with changes
pending. Any other failure does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

MARKER_PREFIX = "airflow-platform-plan"
MAX_COMMENT_CHARS = 65536  # GitHub rejects a longer issue/PR comment body
# What a comment is cut to: a margin below the limit, since GitHub may count differently
# than Python (characters outside the BMP, line ends normalized on its side).
COMMENT_BUDGET = MAX_COMMENT_CHARS - 2048
COLLAPSE_LINES = 20
BOT_LOGIN = "github-actions[bot]"  # the author of comments made with GITHUB_TOKEN

# terraform's answers when a terraform_remote_state source finds no state, or a state
# without the output a cross-stack reference asks for.
MISSING_REMOTE_STATE = "Unable to find remote state"
REMOTE_STATE_SOURCE = "terraform_remote_state"
UNSUPPORTED_ATTRIBUTE = "Unsupported attribute"

DIAGNOSTIC_FRAME_RE = re.compile(r"^[│╷╵]\s?")  # the box terraform draws around diagnostics
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Progress lines of the refresh: one per resource, no information for a reviewer.
NOISE_RE = re.compile(r": (Refreshing state\.\.\.|Reading\.\.\.|Read complete after |Still reading\.\.\.)")
PLAN_LINE_RE = re.compile(r"^Plan: .*$", re.MULTILINE)

# A line about a secret's resource or data source (`data.aws_secretsmanager_secret_version.db:
# Read complete after 0s [id=arn:...|AWSCURRENT]`, `random_password.x: ... [id=...]`): its
# `[id=...]` may be the secret itself (a random_password's id is its value), so it is masked.
SENSITIVE_ADDRESS_RE = re.compile(r"\b(aws_secretsmanager_\w+|random_password)\.")
ID_RE = re.compile(r"\[id=[^\]]*\]")
MASKED_ID = "[id=(masked)]"

NO_CHANGES, CHANGES, FAILED, WAITING = "no-changes", "changes", "failed", "waiting"
ICONS = {NO_CHANGES: "✅", CHANGES: "📝", FAILED: "❌", WAITING: "⏳"}


# --- running terraform ---------------------------------------------------------------------


@dataclass
class StackResult:
    """What terraform said for one stack: the last command run, its exit code and output."""

    stack: str
    command: str  # "init" when init failed, else "plan"
    exit_code: int  # plan uses -detailed-exitcode: 0 no changes, 1 error, 2 changes
    output: str


Runner = Callable[[list[str]], tuple[int, str]]


def run_command(args: list[str]) -> tuple[int, str]:
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", check=False)
    return proc.returncode, proc.stdout


def mask_secrets(text: str) -> str:
    """Every `[id=...]` on a line that names a Secrets Manager or random_password address, masked."""
    return "\n".join(ID_RE.sub(MASKED_ID, line) if SENSITIVE_ADDRESS_RE.search(line) else line
                     for line in text.split("\n"))


def plan_stack(stack: str, stacks_dir: Path, terraform: str = "terraform",
               run: Runner = run_command) -> StackResult:
    """Masked at once: what is kept (log, results file, artifact, comment) never holds a secret id."""
    workdir = f"-chdir={stacks_dir / stack}"
    code, output = run([terraform, workdir, "init", "-input=false", "-no-color"])
    if code != 0:
        return StackResult(stack, "init", code, mask_secrets(output))
    # -lock=false: a pull request plan never writes state, and a cancelled run must not
    # leave a lock behind that blocks the next deploy.
    code, output = run([terraform, workdir, "plan", "-input=false", "-no-color", "-lock=false",
                        "-detailed-exitcode"])
    return StackResult(stack, "plan", code, mask_secrets(output))


def print_to_log(title: str, text: str) -> None:
    """Print raw terraform output in a collapsed log group, with workflow commands off."""
    token = secrets.token_hex(16)
    print(f"::group::{title}")
    print(f"::stop-commands::{token}")
    print(text, end="" if text.endswith("\n") else "\n")
    print(f"::{token}::")
    print("::endgroup::", flush=True)


# --- reading the results ---------------------------------------------------------------------


@dataclass
class Outcome:
    stack: str
    status: str  # NO_CHANGES, CHANGES, FAILED or WAITING
    summary: str
    waiting_for: str = ""


def clean_output(text: str) -> str:
    text = mask_secrets(ANSI_RE.sub("", text).replace("\r\n", "\n"))  # again: results may come from elsewhere
    lines = [line for line in text.split("\n") if not NOISE_RE.search(line)]
    return "\n".join(lines).strip("\n") + "\n"


def plan_summary(output: str) -> str:
    found = PLAN_LINE_RE.findall(output)
    if found:
        return found[-1].strip()
    if "Changes to Outputs:" in output:
        return "Only output values will change."
    return "Changes detected."


def error_blocks(output: str) -> list[str]:
    """terraform's error diagnostics, one string each (title line first)."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for raw in output.split("\n"):
        line = DIAGNOSTIC_FRAME_RE.sub("", raw)
        if line.startswith("Error: "):
            current = [line]
            blocks.append(current)
        elif line.startswith("Warning: "):
            current = None
        elif current is not None:
            current.append(line)
    return ["\n".join(block) for block in blocks]


def is_remote_state_error(block: str) -> bool:
    if block.startswith(f"Error: {MISSING_REMOTE_STATE}"):
        return True
    return block.startswith(f"Error: {UNSUPPORTED_ATTRIBUTE}") and REMOTE_STATE_SOURCE in block


def is_remote_state_failure(output: str) -> bool:
    """True when every error says a stack this one reads has no state, or lacks an output."""
    blocks = error_blocks(output)
    return bool(blocks) and all(is_remote_state_error(block) for block in blocks)


def classify(results: list[StackResult]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for result in results:
        if result.command == "plan" and result.exit_code == 0:
            outcomes.append(Outcome(result.stack, NO_CHANGES, "No changes."))
            continue
        if result.command == "plan" and result.exit_code == 2:
            outcomes.append(Outcome(result.stack, CHANGES, plan_summary(result.output)))
            continue
        pending = [o.stack for o in outcomes if o.status == CHANGES]
        if result.command == "plan" and pending and is_remote_state_failure(result.output):
            upstream = pending[-1]
            outcomes.append(Outcome(
                result.stack, WAITING,
                f"Cannot be planned until `{upstream}` is applied.", waiting_for=upstream))
            continue
        outcomes.append(Outcome(result.stack, FAILED, f"terraform {result.command} failed."))
    return outcomes


# --- rendering the comment -------------------------------------------------------------------


def marker(stack: str) -> str:
    return f"<!-- {MARKER_PREFIX}:{stack} -->"


def code_fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def truncation_note(shown: int, total: int, run_url: str) -> str:
    where = f"the job log of [this workflow run]({run_url})" if run_url else "the job log"
    return (f"> [!WARNING]\n> Truncated to fit GitHub's {MAX_COMMENT_CHARS:,}-character comment limit: "
            f"showing the first {shown:,} of {total:,} characters. The full output is in {where}.\n")


def waiting_note(stack: str, upstream: str) -> str:
    return (f"`{stack}` reads outputs of the `{upstream}` stack that do not exist yet: `{upstream}` "
            f"has not been applied (or this pull request adds outputs to it that are not applied yet). "
            f"This is expected before the first deploy; it does not fail this check. The Deploy workflow "
            f"applies `{upstream}` and then `{stack}` in one run, and the next plan will show `{stack}`.\n")


def render_comment(outcome: Outcome, output: str, *, commit: str = "", run_url: str = "",
                   limit: int = COMMENT_BUDGET) -> str:
    """The whole comment for one stack, never longer than `limit` characters."""
    text = clean_output(output)
    title = f"{marker(outcome.stack)}\n### {ICONS[outcome.status]} Terraform plan: `{outcome.stack}`\n\n"
    lines = [f"**{outcome.summary}**\n"]
    if outcome.status == WAITING:
        lines.append("\n" + waiting_note(outcome.stack, outcome.waiting_for))
    context = []
    if commit:
        context.append(f"commit `{commit[:12]}`")
    if run_url:
        context.append(f"[workflow run]({run_url})")
    if context:
        lines.append("\n" + " · ".join(context) + "\n")
    head = title + "".join(lines) + "\n"

    line_count = text.count("\n")
    label = "terraform output" if outcome.status in (FAILED, WAITING) else "plan"
    # The error output of a stack that waits is only for reference: always folded.
    collapse = line_count > COLLAPSE_LINES or outcome.status == WAITING
    fence = code_fence(text)

    def assemble(body_text: str, note: str) -> str:
        block = f"{fence}text\n{body_text}{fence}\n"
        if collapse:
            block = (f"<details><summary>Show the {label} ({line_count:,} lines)</summary>\n\n"
                     f"{block}\n</details>\n")
        return head + block + ("\n" + note if note else "")

    full = assemble(text, "")
    if len(full) <= limit:
        return full
    # Cut the text (at a line end when possible) so that text + note fit in the limit.
    note_budget = len(truncation_note(len(text), len(text), run_url))
    room = limit - len(assemble("", "")) - note_budget - 2
    cut = text[:max(room, 0)]
    if "\n" in cut:
        cut = cut[:cut.rfind("\n") + 1]
    elif cut:
        cut = cut[:-1] + "\n"
    body = assemble(cut, truncation_note(len(cut), len(text), run_url))
    assert len(body) <= limit, (len(body), limit)
    return body


# --- GitHub ---------------------------------------------------------------------------------

Transport = Callable[[str, str, dict, bytes | None], tuple[int, bytes]]


def urllib_transport(method: str, url: str, headers: dict, data: bytes | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (https API URL)
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class GitHubError(RuntimeError):
    pass


class GitHub:
    """The three REST calls needed to keep one comment per marker on a pull request."""

    def __init__(self, api_url: str, repository: str, token: str, transport: Transport = urllib_transport):
        if not api_url.startswith("https://"):
            raise GitHubError(f"refusing a non-https API URL: {api_url!r}")
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self.token = token
        self.transport = transport

    def _call(self, method: str, path: str, payload: dict | None = None):
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "airflow-platform-plan-comment",
        }
        data = None
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        status, body = self.transport(method, f"{self.api_url}{path}", headers, data)
        if not 200 <= status < 300:
            # The response body is GitHub's error message; it never contains the token.
            raise GitHubError(f"{method} {path} answered {status}: {body[:500].decode(errors='replace')}")
        return json.loads(body) if body else None

    def comments(self, pr: int, per_page: int = 100) -> Iterator[dict]:
        page = 1
        while True:
            batch = self._call("GET", f"/repos/{self.repository}/issues/{pr}/comments"
                                      f"?per_page={per_page}&page={page}")
            yield from batch
            if len(batch) < per_page:
                return
            page += 1

    def upsert_comment(self, pr: int, stack_marker: str, body: str, bot_login: str = BOT_LOGIN) -> str:
        """Update the bot's comment that starts with the marker, or create it. Returns the action."""
        for comment in self.comments(pr):
            if (comment.get("user") or {}).get("login") == bot_login and \
                    (comment.get("body") or "").startswith(stack_marker):
                self._call("PATCH", f"/repos/{self.repository}/issues/comments/{comment['id']}", {"body": body})
                return "updated"
        self._call("POST", f"/repos/{self.repository}/issues/{pr}/comments", {"body": body})
        return "created"


# --- commands -------------------------------------------------------------------------------


def save_results(path: Path, results: Iterable[StackResult]) -> None:
    path.write_text(json.dumps({"stacks": [asdict(r) for r in results]}, indent=2))


def load_results(path: Path) -> list[StackResult]:
    return [StackResult(**item) for item in json.loads(path.read_text())["stacks"]]


def cmd_plan(args: argparse.Namespace) -> int:
    results = []
    for stack in args.stacks:
        result = plan_stack(stack, Path(args.stacks_dir), terraform=args.terraform)
        print_to_log(f"terraform {result.command} {stack} (exit code {result.exit_code})", result.output)
        results.append(result)
    save_results(Path(args.results), results)
    for outcome in classify(results):
        print(f"{outcome.stack}: {outcome.status}: {outcome.summary}")
    return 0


def run_url_from_env(env: dict) -> str:
    parts = [env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")]
    if not all(parts):
        return ""
    return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}"


def cmd_comment(args: argparse.Namespace, env: dict | None = None, transport: Transport = urllib_transport) -> int:
    env = dict(os.environ if env is None else env)
    results = load_results(Path(args.results))
    outcomes = classify(results)
    run_url = run_url_from_env(env)
    commit = env.get("PR_HEAD_SHA", "")
    bodies = [(o, render_comment(o, r.output, commit=commit, run_url=run_url))
              for o, r in zip(outcomes, results, strict=True)]

    summary_file = env.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            for _, body in bodies:
                fh.write(body + "\n")
    if args.dry_run:
        for _, body in bodies:
            print(body)
        return 0
    if args.out_dir:  # for another job to post (plan.yml): one <stack>.md per stack
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for outcome, body in bodies:
            (out / f"{outcome.stack}.md").write_text(body, encoding="utf-8")
            print(f"{outcome.stack}: comment written to {out / (outcome.stack + '.md')}")
        return 0

    missing = [name for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL", "PR_NUMBER")
               if not env.get(name)]
    if missing:
        print(f"error: {', '.join(missing)} must be set to comment on the pull request", file=sys.stderr)
        return 2
    github = GitHub(env["GITHUB_API_URL"], env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"], transport)
    for outcome, body in bodies:
        action = github.upsert_comment(int(env["PR_NUMBER"]), marker(outcome.stack), body)
        print(f"{outcome.stack}: comment {action}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    outcomes = classify(load_results(Path(args.results)))
    failed = [o for o in outcomes if o.status == FAILED]
    for o in outcomes:
        print(f"{o.stack}: {o.status}: {o.summary}")
    if failed:
        print(f"error: the plan of {', '.join(o.stack for o in failed)} failed; its output is in the log "
              "above and in the pull request comment", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="terraform init + plan each stack and save the results")
    p.add_argument("stacks", nargs="+", help="stack names, dependencies first (e.g. infra apps)")
    p.add_argument("--results", required=True)
    p.add_argument("--stacks-dir", default="cdktf.out/stacks")
    p.add_argument("--terraform", default=os.environ.get("TERRAFORM", "terraform"))
    c = sub.add_parser("comment", help="create or update one pull request comment per stack")
    c.add_argument("--results", required=True)
    c.add_argument("--dry-run", action="store_true", help="print the comments instead of posting them")
    c.add_argument("--out-dir", help="write <stack>.md files instead of posting them")
    k = sub.add_parser("check", help="exit 1 if a plan genuinely failed")
    k.add_argument("--results", required=True)
    args = parser.parse_args(argv)
    return {"plan": cmd_plan, "comment": cmd_comment, "check": cmd_check}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
