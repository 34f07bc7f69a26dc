"""The Airflow image every Airflow container runs: the official one, or the team's by digest.

The default is the official `apache/airflow:<airflow_image_tag>`, so a first deploy needs no
build. The team's image (Dockerfile + requirements.txt) lives in the infra stack's ECR
repository with immutable tags, and is deployed by digest: a digest names exactly the bytes CI
built and scanned, a tag only what it points at when the node pulls.
"""

from __future__ import annotations

from dataclasses import dataclass

OFFICIAL_REPOSITORY = "apache/airflow"
# ECR's repository URI: <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<name>, name lowercase with
# `.`, `_`, `-` and `/` between parts (ECR CreateRepository, repositoryName pattern).
ECR_REPOSITORY_RE = (r"\d{12}\.dkr\.ecr\.[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d\.amazonaws\.com(\.cn)?"
                     r"/[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
IMAGE_REPOSITORY_RE = f"^({OFFICIAL_REPOSITORY}|{ECR_REPOSITORY_RE})$"
DIGEST_RE = r"^$|^sha256:[0-9a-f]{64}$"


def team_repository_name(prefix: str) -> str:
    """The ECR repository of the team's image (infra stack); CI pushes there."""
    return f"{prefix}/airflow"


@dataclass(frozen=True)
class AirflowImage:
    repository: str  # apache/airflow, or the team's ECR repository URI
    tag: str  # the platform's Airflow version (airflow_image_tag)
    digest: str = ""  # sha256:...; when set, the image is pulled by digest and the tag is only a label

    @property
    def reference(self) -> str:
        """What a container's `image` says: repository@digest, else repository:tag (the chart's
        own rule, `airflow_image` in its templates/_helpers.yaml)."""
        return f"{self.repository}@{self.digest}" if self.digest else f"{self.repository}:{self.tag}"

    def chart_values(self) -> dict:
        """The chart's `images.airflow`: every Airflow container (and the migration job) uses it.
        `defaultAirflowTag` stays the official image's fallback of the same version."""
        values = {"repository": self.repository, "tag": self.tag}
        if self.digest:
            values["digest"] = self.digest
        return values
