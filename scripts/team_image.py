#!/usr/bin/env python
"""Finds the team's Airflow image for this commit in the infra stack's ECR repository.

The image is named by a content tag, `<airflow_image_tag>-<16 hex of sha256(Dockerfile,
requirements.txt)>`: the same files give the same tag, so CI builds only when one of them (or
the Airflow version) changed, and the repository's immutable tags keep a tag on one image.

    python scripts/team_image.py find [--github-output FILE] [--github-env FILE] [--require]

prints (and appends to FILE as GitHub step outputs) `repository` (the repository URI; empty when
the infra stack has not created it yet, i.e. before a first deploy), `tag`, `airflow_version`,
and `digest` (empty when no image carries the tag yet: CI builds and pushes it). With
`--github-env` and a digest, it appends AIRFLOW_PLATFORM_AIRFLOW_IMAGE_REPOSITORY and
AIRFLOW_PLATFORM_AIRFLOW_IMAGE_DIGEST to FILE: the deploy then pulls the image by the digest
ECR recorded for the tag, never by the tag. `--require` exits 1 when there is no digest.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from airflow_platform.airflow_image import team_repository_name  # noqa: E402
from airflow_platform.setting_sources import ENV_PREFIX  # noqa: E402

IMAGE_FILES = ("Dockerfile", "requirements.txt")


def content_tag(airflow_version: str, root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for name in IMAGE_FILES:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return f"{airflow_version}-{digest.hexdigest()[:16]}"


def find(ecr, repository_name: str, tag: str) -> tuple[str, str]:
    """(repository URI or "", digest or "") of `tag` in the repository."""
    try:
        [repository] = ecr.describe_repositories(repositoryNames=[repository_name])["repositories"]
    except ecr.exceptions.RepositoryNotFoundException:
        return "", ""
    try:
        [image] = ecr.describe_images(repositoryName=repository_name, imageIds=[{"imageTag": tag}])["imageDetails"]
    except ecr.exceptions.ImageNotFoundException:
        return repository["repositoryUri"], ""
    return repository["repositoryUri"], image["imageDigest"]


def main(argv: list[str] | None = None, ecr=None, settings=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["find"])
    parser.add_argument("--github-output", type=Path)
    parser.add_argument("--github-env", type=Path)
    parser.add_argument("--require", action="store_true")
    args = parser.parse_args(argv)
    if settings is None:
        from airflow_platform.settings import load_settings

        settings = load_settings()
    if ecr is None:
        import boto3

        ecr = boto3.client("ecr", region_name=settings.region)
    tag = content_tag(settings.airflow_image_tag)
    try:
        repository, digest = find(ecr, team_repository_name(settings.prefix), tag)
    except ecr.exceptions.ClientError as err:
        # A CI role bootstrapped before its policy had ci_policies.IMAGE_FIND_ACTIONS (the plan role's).
        if err.response["Error"]["Code"] != "AccessDeniedException":
            raise
        print(f"team_image: this role may not call ecr:{err.operation_name} on "
              f"{team_repository_name(settings.prefix)}: re-run `npx cdktf deploy bootstrap` to update the CI "
              "roles (docs/ci-cd.md)", file=sys.stderr)
        return 1
    found = {"repository": repository, "tag": tag, "airflow_version": settings.airflow_image_tag, "digest": digest}
    lines = [f"{k}={v}" for k, v in found.items()]
    print("\n".join(lines))
    if args.github_output:
        with args.github_output.open("a") as out:
            out.write("".join(f"{line}\n" for line in lines))
    if not repository:
        print(f"team_image: no repository {team_repository_name(settings.prefix)} yet (before the first infra "
              "deploy): Airflow runs the official image", file=sys.stderr)
    elif not digest:
        print(f"team_image: no image tagged {tag} in {repository} yet (Dockerfile, requirements.txt or "
              "airflow_image_tag changed): the deploy builds it; until then the official image", file=sys.stderr)
    if digest and args.github_env:
        with args.github_env.open("a") as env:
            env.write(f"{ENV_PREFIX}AIRFLOW_IMAGE_REPOSITORY={repository}\n{ENV_PREFIX}AIRFLOW_IMAGE_DIGEST={digest}\n")
    if args.require and not digest:
        print(f"team_image: no image tagged {tag} in {repository or team_repository_name(settings.prefix)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
