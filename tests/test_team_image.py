"""The team's image (Dockerfile + requirements.txt), proven without Docker.

- The Dockerfile's base is `apache/airflow:<airflow_image_tag>`, and it passes a structural
  lint (tools/dockerfile_lint.py; hadolint is not installable here). Each lint rule is shown
  catching its defect on a mutated copy.
- requirements.txt pins every package, and pip resolves it together with the pinned
  `apache-airflow==<airflow_image_tag>` against the default index (PyPI), for the image's
  Python and for the rehearsal's. What this cannot prove: that the build's `--constraint`
  (Airflow's constraints file, fetched from GitHub at build time, not reachable here) agrees
  with requirements.txt; a pin that contradicts the constraints fails the image build in CI.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from paths import REPO
from tools.dockerfile_lint import base_images, problems

DOCKERFILE = REPO / "Dockerfile"
REQUIREMENTS = REPO / "requirements.txt"
PIN_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[\w,.-]+\])?==(?P<version>[\w.+!-]+)$")
# apache/airflow:<version> without a -pythonX.Y suffix is built on Airflow's newest supported Python
# at release ("Dockerfile Changelog", Airflow 2.9: the images use Python 3.12); 3.11 is .venv's.
PYTHONS = ("3.12", f"{sys.version_info[0]}.{sys.version_info[1]}")


def platform_tag() -> str:
    return json.loads((REPO / "cdktf.json").read_text())["context"]["airflow_image_tag"]


def pins() -> dict[str, str]:
    result = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = PIN_RE.match(line)
            assert match, f"requirements.txt: {line!r} is not pinned: write name==version"
            result[match["name"].lower().replace("_", "-")] = match["version"]
    return result


def test_the_base_image_is_the_platform_airflow_tag():
    assert base_images(DOCKERFILE.read_text()) == [f"apache/airflow:{platform_tag()}"], (
        "Dockerfile's ARG AIRFLOW_VERSION must equal cdktf.json's airflow_image_tag")


def test_the_dockerfile_passes_the_structural_lint():
    assert problems(DOCKERFILE.read_text()) == []


MUTATIONS = {
    "latest base": (r"ARG AIRFLOW_VERSION=\S+", "ARG AIRFLOW_VERSION=latest", "never latest"),
    "unpinned base": (r"FROM apache/airflow:\$\{AIRFLOW_VERSION\}", "FROM apache/airflow", "unpinned tag"),
    "another base": (r"FROM apache/airflow:", "FROM python:", "FROM python:"),
    "pip as root": (r"USER airflow", "USER root", "pip install as root"),
    "keeps the pip cache": (r"--no-cache-dir ", "", "--no-cache-dir"),
    "no constraints": (r"\s*--constraint \"[^\"]+\"", "", "--constraint"),
    "airflow not pinned": (r"\"apache-airflow==\$\{AIRFLOW_VERSION\}\" ", "", "apache-airflow=="),
    "ADD": (r"COPY --chown", "ADD --chown", "ADD: use COPY"),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_the_lint_catches_each_defect(name):
    pattern, replacement, expected = MUTATIONS[name]
    mutated, count = re.subn(pattern, replacement, DOCKERFILE.read_text(), count=1)
    assert count == 1, f"mutation {name!r} no longer applies to the Dockerfile"
    found = problems(mutated)
    assert any(expected in p for p in found), found


def test_requirements_pin_every_package_and_leave_airflow_to_the_dockerfile():
    pinned = pins()
    assert pinned, "requirements.txt is empty: the DAGs' own packages belong there"
    assert "apache-airflow" not in pinned, "the Dockerfile pins apache-airflow to the image's own version"


@pytest.mark.network
@pytest.mark.parametrize("python", sorted(set(PYTHONS)))
def test_requirements_resolve_with_the_platform_airflow(python, tmp_path):
    report = tmp_path / "report.json"
    # --isolated: this machine's pip configuration (extra indexes, constraints) is not CI's.
    command = [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--quiet", "--ignore-installed",
               "--report", str(report), "--python-version", python, "--only-binary=:all:",
               f"apache-airflow=={platform_tag()}", "--requirement", str(REQUIREMENTS)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"pip could not resolve requirements.txt with Airflow {platform_tag()} " \
        f"for Python {python}:\n{result.stderr[-3000:]}"
    resolved = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
                for i in json.loads(report.read_text())["install"]}
    assert resolved["apache-airflow"] == platform_tag()
    for name, version in pins().items():
        assert resolved.get(name) == version, f"{name}: resolved {resolved.get(name)}, pinned {version}"


# --- scripts/team_image.py: which image CI deploys ----------------------------------------------


def load_team_image_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("team_image", REPO / "scripts" / "team_image.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_content_tag_follows_both_files_and_the_airflow_version(tmp_path):
    team_image = load_team_image_script()
    for name in team_image.IMAGE_FILES:
        (tmp_path / name).write_text((REPO / name).read_text())
    tag = team_image.content_tag("3.3.2", tmp_path)
    assert re.fullmatch(r"3\.3\.2-[0-9a-f]{16}", tag) and team_image.content_tag("3.3.2", tmp_path) == tag
    assert team_image.content_tag("3.3.3", tmp_path) != tag
    for name in team_image.IMAGE_FILES:
        original = (tmp_path / name).read_text()
        (tmp_path / name).write_text(original + "\n# changed\n")
        assert team_image.content_tag("3.3.2", tmp_path) != tag, name
        (tmp_path / name).write_text(original)


def test_find_gives_the_digest_ecr_recorded_for_the_content_tag(tmp_path, monkeypatch):
    """moto's ECR stands in for ECR: DescribeRepositories, DescribeImages and PutImage with a tag.
    It does not check the manifest against pushed layers (ECR does); only the digest it returns
    for the tag is used here, which ECR computes as sha256 of the manifest, as moto does."""
    import boto3
    from moto import mock_aws

    from defaults import settings_without_env

    from airflow_platform.ci_policies import IMAGE_FIND_ACTIONS

    team_image = load_team_image_script()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "test")
    settings = settings_without_env()
    output, env = tmp_path / "output", tmp_path / "env"
    called: set[str] = set()

    def find(argv: list[str]) -> int:
        """team_image.main, recording the ECR operations it calls (what the CI roles must allow)."""
        ecr.meta.events.register("before-call.ecr", record := lambda model, **_: called.add(f"ecr:{model.name}"))
        try:
            return team_image.main(argv, ecr, settings)
        finally:
            ecr.meta.events.unregister("before-call.ecr", record)

    with mock_aws():
        ecr = boto3.client("ecr", region_name=settings.region)
        # Before the first infra deploy: no repository, the official image, no error.
        assert find(["find", "--github-output", str(output), "--github-env", str(env)]) == 0
        assert "repository=\n" in output.read_text() and not env.exists()
        name = f"{settings.prefix}/airflow"
        uri = ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")["repository"]["repositoryUri"]
        # The repository, but no image of this content yet: CI builds; --require refuses to go on.
        assert find(["find", "--require", "--github-env", str(env)]) == 1
        assert not env.exists()
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                               "config": {}, "layers": []})
        tag = team_image.content_tag(settings.airflow_image_tag)
        digest = ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag=tag)["image"]["imageId"]["imageDigest"]
        assert find(["find", "--require", "--github-env", str(env)]) == 0
    # The plan and deploy roles allow exactly these (tests/test_ci_policies.py).
    assert called == set(IMAGE_FIND_ACTIONS)
    assert env.read_text() == (f"AIRFLOW_PLATFORM_AIRFLOW_IMAGE_REPOSITORY={uri}\n"
                               f"AIRFLOW_PLATFORM_AIRFLOW_IMAGE_DIGEST={digest}\n")
    # What the deploy's settings then read: valid, and the image by digest.
    deployed = settings_without_env(airflow_image_repository=uri, airflow_image_digest=digest)
    assert deployed.airflow_image.reference == f"{uri}@{digest}"


def test_a_role_bootstrapped_before_the_image_look_up_is_told_how_to_fix_it(capsys):
    """ECR answers AccessDeniedException when the policy lacks the action (ECR API Reference,
    "Common Errors"); a plan role made before the plan job looked images up is one. Stubbed: moto
    authorizes nothing by default."""
    import boto3
    from botocore.stub import Stubber

    from defaults import settings_without_env

    team_image = load_team_image_script()
    settings = settings_without_env()
    ecr = boto3.client("ecr", region_name=settings.region, aws_access_key_id="test",
                       aws_secret_access_key="test")  # pragma: allowlist secret
    name = f"{settings.prefix}/airflow"
    with Stubber(ecr) as stub:
        stub.add_response("describe_repositories", {"repositories": [
            {"repositoryName": name, "repositoryUri": f"123456789012.dkr.ecr.{settings.region}.amazonaws.com/{name}"}]})
        stub.add_client_error("describe_images", "AccessDeniedException", http_status_code=400)
        assert team_image.main(["find"], ecr, settings) == 1
    err = capsys.readouterr().err
    assert "ecr:DescribeImages" in err and "npx cdktf deploy bootstrap" in err and "Traceback" not in err
