"""The AWS provider every stack configures the same way: one region, the project's tags."""

from __future__ import annotations

from cdktf import TerraformStack

from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags

from airflow_platform.settings import Settings


def default_tags(settings: Settings) -> dict[str, str]:
    """On every taggable resource; the CI policies scope KMS and IAM by them."""
    return {"Project": settings.name, "Environment": settings.profile, "ManagedBy": "cdktf"}


def configure_aws(stack: TerraformStack, settings: Settings, *, region: str | None = None) -> AwsProvider:
    return AwsProvider(stack, "aws", region=region or settings.region,
                       default_tags=[AwsProviderDefaultTags(tags=default_tags(settings))])
