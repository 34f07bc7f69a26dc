"""ImageRepository: the ECR repository of the team's Airflow image (Dockerfile + requirements.txt).

- Immutable tags: a tag, once pushed, always names the same image, and deploys go by digest.
- Scan on push: ECR's basic scan reports known vulnerabilities of every pushed image.
- Encrypted with a KMS key of its own (one per purpose, as every key here): when the
  repository is created, ECR calls DescribeKey and creates grants on the key as the caller,
  and uses those grants to encrypt layers on push and decrypt them on pull (ECR User Guide,
  "Encryption at rest"), so pushers and pullers need ECR permissions only.
- A lifecycle policy: untagged images (superseded pushes) go after UNTAGGED_DAYS, and only the
  newest KEPT_IMAGES stay, enough to roll back to any recent deploy.

Nodes pull with the AWS-managed AmazonEC2ContainerRegistryReadOnly policy their role carries
(eks_with_csi.py); CI pushes with the deploy role (ci_policies.IMAGE_PUSH_ACTIONS).
"""

from __future__ import annotations

import json

from constructs import Construct

from cdktf_cdktf_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktf_cdktf_provider_aws.ecr_repository import (
    EcrRepository, EcrRepositoryEncryptionConfiguration, EcrRepositoryImageScanningConfiguration,
)

from airflow_platform.constructs.kms import EncryptionKey

UNTAGGED_DAYS = 7
KEPT_IMAGES = 30


def lifecycle_rules() -> dict:
    """ECR's rule order: a rule with tagStatus `any` must have the highest rulePriority number
    (ECR User Guide, "Lifecycle policy properties")."""
    return {"rules": [
        {"rulePriority": 1, "description": f"untagged images after {UNTAGGED_DAYS} days",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": UNTAGGED_DAYS},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"keep the newest {KEPT_IMAGES} images",
         "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": KEPT_IMAGES},
         "action": {"type": "expire"}},
    ]}


class ImageRepository(Construct):
    url: str  # <account>.dkr.ecr.<region>.amazonaws.com/<name>: the setting airflow_image_repository
    arn: str

    def __init__(self, scope: Construct, id: str, *, name: str, key_alias: str, force_delete: bool) -> None:
        super().__init__(scope, id)
        key = EncryptionKey(self, "key", alias=key_alias, description=f"the Airflow image repository {name}")
        repository = EcrRepository(
            self, "repository", name=name, image_tag_mutability="IMMUTABLE", force_delete=force_delete,
            image_scanning_configuration=EcrRepositoryImageScanningConfiguration(scan_on_push=True),
            encryption_configuration=[EcrRepositoryEncryptionConfiguration(encryption_type="KMS", kms_key=key.arn)],
        )
        EcrLifecyclePolicy(self, "lifecycle", repository=repository.name, policy=json.dumps(lifecycle_rules()))
        self.url = repository.repository_url
        self.arn = repository.arn
