"""A small structural lint of the team's Dockerfile (hadolint is not installable here).

It checks only what the image's correctness leans on; each rule names the line it objects to:
- every FROM is `apache/airflow:<tag>` with a pinned tag (ARG defaults resolved), never `latest`;
- pip runs as the airflow user: Airflow's docker-stack docs
  (https://airflow.apache.org/docs/docker-stack/build.html, "Adding new PyPI packages
  individually") say installing as root fails, and the image must end as the airflow user;
- every `pip install` keeps no cache (`--no-cache-dir`), pins `apache-airflow==${AIRFLOW_VERSION}`
  and uses Airflow's constraints file (`--constraint`);
- no ADD (it fetches URLs and unpacks archives behind the reader's back).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ARG_RE = re.compile(r"^(?P<name>\w+)(?:=(?P<default>\S+))?$")
VAR_RE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
OFFICIAL_REPOSITORY = "apache/airflow"


@dataclass(frozen=True)
class Instruction:
    line: int  # where it starts, 1-based
    keyword: str  # upper case
    args: str


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, comments dropped and continuation lines joined."""
    result: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        pending.append(stripped[:-1] if stripped.endswith("\\") else stripped)
        if not stripped.endswith("\\"):
            keyword, _, args = " ".join(pending).partition(" ")
            result.append(Instruction(start, keyword.upper(), args.strip()))
            pending = []
    if pending:  # a continuation at the end of the file: Docker takes what it has
        keyword, _, args = " ".join(pending).partition(" ")
        result.append(Instruction(start, keyword.upper(), args.strip()))
    return result


def arg_defaults(parsed: list[Instruction]) -> dict[str, str]:
    defaults = {}
    for i in parsed:
        if i.keyword == "ARG":
            match = ARG_RE.match(i.args)
            if match and match["default"] is not None:
                defaults.setdefault(match["name"], match["default"].strip('"'))
    return defaults


def base_images(text: str) -> list[str]:
    """Every FROM's image, ARG defaults substituted."""
    parsed = instructions(text)
    defaults = arg_defaults(parsed)
    return [VAR_RE.sub(lambda m: defaults.get(m[1] or m[2], m[0]), i.args.split()[0])
            for i in parsed if i.keyword == "FROM"]


def problems(text: str) -> list[str]:
    parsed = instructions(text)
    found: list[str] = []
    froms = [i for i in parsed if i.keyword == "FROM"]
    if not froms:
        found.append("no FROM: the image must start from apache/airflow:<airflow_image_tag>")
    for i, image in zip(froms, base_images(text)):
        repository, _, tag = image.partition(":")
        if repository != OFFICIAL_REPOSITORY or not tag or "$" in tag or tag == "latest" or "@" in repository:
            found.append(f"line {i.line}: FROM {image}: use {OFFICIAL_REPOSITORY}:<pinned tag> (an ARG default "
                         "equal to airflow_image_tag), never latest or an unpinned tag")
    if re.search(r"(?<![\w-])latest(?![\w-])", text):
        found.append("the word latest appears: pin every image and package")
    user = "root"  # a Dockerfile without USER runs as the base image's user; assume the worst
    for i in parsed:
        if i.keyword == "FROM":
            user = "airflow" if i.args.startswith(OFFICIAL_REPOSITORY) else "root"
        elif i.keyword == "USER":
            user = i.args.split(":")[0]
        elif i.keyword == "ADD":
            found.append(f"line {i.line}: ADD: use COPY (ADD fetches URLs and unpacks archives)")
        elif i.keyword == "RUN" and re.search(r"\bpip3?\s+install\b|-m\s+pip\s+install\b", i.args):
            if user != "airflow":
                found.append(f"line {i.line}: pip install as {user}: install as USER airflow "
                             "(the docker-stack docs: installing as root fails)")
            if "--no-cache-dir" not in i.args:
                found.append(f"line {i.line}: pip install without --no-cache-dir: the cache bloats the layer")
            if not re.search(r"--constraint[ =]\S+", i.args):
                found.append(f"line {i.line}: pip install without --constraint: use Airflow's constraints file "
                             "of the platform's version")
            if not re.search(r'apache-airflow==\$\{?AIRFLOW_VERSION\}?', i.args):
                found.append(f"line {i.line}: pip install without \"apache-airflow==${{AIRFLOW_VERSION}}\": "
                             "pip could move Airflow off the image's version")
    if user != "airflow":
        found.append(f"the image ends as USER {user}: end as USER airflow")
    return found
