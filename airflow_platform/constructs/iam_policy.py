"""IAM policy documents as JSON strings; tokens inside them resolve at synthesis."""

from __future__ import annotations

import json
from typing import Any


def policy_json(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def service_trust_policy(service: str) -> str:
    """Trust policy that lets one AWS service assume the role."""
    return policy_json([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])
