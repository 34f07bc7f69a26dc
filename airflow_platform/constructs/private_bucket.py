"""The settings every bucket of the platform gets: never public, owner-enforced, versioned,
encrypted by default, TLS only. Shared by the task-logs bucket and the state bucket."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration, S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload, S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls, S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA, S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA, S3BucketVersioningVersioningConfiguration

from airflow_platform.constructs.iam_policy import policy_json


def harden_bucket(scope: Construct, bucket: S3Bucket, *, kms_key_arn: str | None) -> None:
    """Adds to `scope` (ids `public_access_block`, `ownership`, `versioning`, `encryption`):
    SSE-KMS with `kms_key_arn`, or SSE-S3 without one."""
    S3BucketPublicAccessBlock(scope, "public_access_block", bucket=bucket.id, block_public_acls=True,
                              block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
    S3BucketOwnershipControls(scope, "ownership", bucket=bucket.id,
                              rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"))
    S3BucketVersioningA(scope, "versioning", bucket=bucket.id,
                        versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"))
    by_default = (
        S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
            sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn) if kms_key_arn else
        S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(sse_algorithm="AES256"))
    S3BucketServerSideEncryptionConfigurationA(
        scope, "encryption", bucket=bucket.id,
        rule=[S3BucketServerSideEncryptionConfigurationRuleA(
            bucket_key_enabled=True, apply_server_side_encryption_by_default=by_default)],
    )


def expire_old_versions(scope: Construct, bucket: S3Bucket, *, noncurrent_days: int) -> None:
    """The lifecycle (id `lifecycle`): overwritten versions go after `noncurrent_days`, stale uploads after 7."""
    S3BucketLifecycleConfiguration(
        scope, "lifecycle", bucket=bucket.id,
        rule=[S3BucketLifecycleConfigurationRule(
            id="expire-old-versions", status="Enabled",
            filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
            noncurrent_version_expiration=[
                S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=noncurrent_days)],
            abort_incomplete_multipart_upload=[
                S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=7)],
        )],
    )


def tls_only_policy(scope: Construct, bucket: S3Bucket) -> S3BucketPolicy:
    """The bucket policy (id `tls_only`): every request not made over TLS is denied."""
    return S3BucketPolicy(scope, "tls_only", bucket=bucket.id, policy=policy_json([{
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket.arn, f"{bucket.arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]))
