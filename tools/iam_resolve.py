"""A synthesized stack's IAM roles as AWS will evaluate them: Terraform references resolved
to the ARNs and tags AWS gives the resources, each role with its policies and boundary.

The shapes, and what decides them:
- a Secrets Manager secret: `arn:<p>:secretsmanager:<region>:<account>:secret:<name>-<6
  random characters>` (Secrets Manager API reference, CreateSecret: "Secrets Manager
  automatically adds a hyphen and six random characters after the secret name in the ARN");
- the RDS-managed master secret (`manage_master_user_password`): named by RDS
  `rds!db-<uuid>`, tagged `aws:rds:primaryDBInstanceArn` = the instance's ARN (Amazon RDS
  User Guide, "Password management with Amazon RDS and AWS Secrets Manager"); the
  provider's default_tags are not on it (RDS creates it, not Terraform);
- a KMS key: `key/<uuid>`; the provider's default_tags (and its own tags) on it;
- an S3 bucket `arn:<p>:s3:::<bucket>`; a log group `...:log-group:<name>` (the provider
  strips the API's `:*`); a DB instance `...:db:<identifier>`; a role `...:role/<name>`.
A reference this module does not know is an error naming it: a check never runs on a guess.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

from tools.iam_eval import as_instance, glob_match

EXAMPLE_ACCOUNT = "123456789012"
_REFERENCE = re.compile(r"\$\{([^${}]*)\}")


@dataclass(frozen=True)
class AwsResource:
    """A resource as IAM sees it: its ARN, its tags, and the KMS key that encrypts it (if any)."""

    arn: str
    tags: dict[str, str] = field(default_factory=dict)
    kms_key_arn: str | None = None

    @property
    def service(self) -> str:
        return self.arn.split(":")[2]

    def context(self) -> dict[str, str]:
        """The tag keys a request on this resource carries (`aws:` and the service's own prefix)."""
        keys = {}
        for tag, value in self.tags.items():
            keys[f"aws:ResourceTag/{tag}"] = value
            keys[f"{self.service}:ResourceTag/{tag}"] = value
        return keys


def _random_suffix(address: str) -> str:
    """Stands for the six random characters Secrets Manager appends: stable per resource."""
    digest = hashlib.sha256(address.encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:6])


def _uuid(address: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, address))


def secret_arn(partition: str, region: str, account: str, name: str, address: str = "") -> str:
    return f"arn:{partition}:secretsmanager:{region}:{account}:secret:{name}-{_random_suffix(address or name)}"


def rds_master_secret_arn(partition: str, region: str, account: str, address: str) -> str:
    return secret_arn(partition, region, account, f"rds!db-{_uuid(address)}", address)


class StackResolver:
    """Resolves `${...}` in one synthesized stack (dict of its cdk.tf.json)."""

    def __init__(self, stack: dict, account: str = EXAMPLE_ACCOUNT, partition: str = "aws") -> None:
        self.stack, self.account, self.partition = stack, account, partition
        provider = stack["provider"]["aws"][0]
        self.region = provider["region"]
        self.default_tags: dict[str, str] = {}
        for block in provider.get("default_tags", []):
            self.default_tags.update(block.get("tags", {}))

    # --- references -------------------------------------------------------------------------

    def resolve(self, text: str) -> str:
        """`text` with every reference replaced by the value AWS will give it."""
        return _REFERENCE.sub(lambda m: self.value(m.group(1)), text)

    def value(self, reference: str) -> str:
        parts = reference.split(".")
        if parts[0] == "data":
            kind, attribute = parts[1], parts[-1]
            known = {("aws_partition", "partition"): self.partition,
                     ("aws_caller_identity", "account_id"): self.account,
                     ("aws_region", "name"): self.region}
            if (kind, attribute) in known:
                return known[(kind, attribute)]
            # An existing bucket looked up by name: the provider sets its id to the name and its ARN
            # from it (terraform-provider-aws internal/service/s3/bucket_data_source.go).
            looked_up = self.stack.get("data", {}).get(kind, {}).get(parts[2]) if len(parts) == 4 else None
            if kind == "aws_s3_bucket" and looked_up is not None and attribute in ("id", "bucket", "arn"):
                name = self.resolve(looked_up["bucket"])
                return f"arn:{self.partition}:s3:::{name}" if attribute == "arn" else name
        elif len(parts) >= 3:
            kind, name, attribute = parts[0], parts[1], ".".join(parts[2:])
            config = self.stack.get("resource", {}).get(kind, {}).get(name)
            if config is not None:
                found = self._attribute(kind, name, config, attribute)
                if found is not None:
                    return found
        raise ValueError(f"tools/iam_resolve.py cannot resolve the reference ${{{reference}}}")

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def _attribute(self, kind: str, name: str, config: dict, attribute: str) -> str | None:
        address = f"{kind}.{name}"
        if kind == "aws_kms_key" and attribute == "arn":
            return self._arn("kms", f"key/{_uuid(address)}")
        if kind == "aws_kms_key" and attribute in ("key_id", "id"):
            return _uuid(address)
        if kind == "aws_secretsmanager_secret" and attribute in ("arn", "id"):
            return secret_arn(self.partition, self.region, self.account, self.resolve(config["name"]), address)
        if kind == "aws_db_instance":
            if attribute == "arn":
                return self._arn("rds", f"db:{self.resolve(config['identifier'])}")
            if attribute == "master_user_secret[0].secret_arn":
                return rds_master_secret_arn(self.partition, self.region, self.account, address)
            if attribute == "master_user_secret[0].kms_key_id":
                # RDS reports the key it was given; without one, its secret uses aws/secretsmanager.
                given = config.get("master_user_secret_kms_key_id")
                return self.resolve(given) if given else None
        if kind == "aws_s3_bucket" and attribute in ("id", "bucket"):
            return self.resolve(config["bucket"])
        if kind == "aws_s3_bucket" and attribute == "arn":
            return f"arn:{self.partition}:s3:::{self.resolve(config['bucket'])}"
        if kind == "aws_cloudwatch_log_group" and attribute == "arn":
            return self._arn("logs", f"log-group:{self.resolve(config['name'])}")
        if kind == "aws_iam_role" and attribute in ("id", "name"):
            return self.resolve(config["name"])
        if kind == "aws_iam_role" and attribute == "arn":
            return f"arn:{self.partition}:iam::{self.account}:role/{self.resolve(config['name'])}"
        return None

    # --- what the stack creates, as AWS names and tags it -------------------------------------

    def _tags(self, config: dict) -> dict[str, str]:
        return {**self.default_tags, **{k: self.resolve(v) for k, v in config.get("tags", {}).items()}}

    def inventory(self) -> list[AwsResource]:
        """The stack's keys, secrets (with the key that encrypts each), buckets and log groups."""
        found: list[AwsResource] = []
        resources = self.stack.get("resource", {})
        for name, config in resources.get("aws_kms_key", {}).items():
            found.append(AwsResource(self.value(f"aws_kms_key.{name}.arn"), self._tags(config)))
        for name, config in resources.get("aws_secretsmanager_secret", {}).items():
            key = config.get("kms_key_id")
            found.append(AwsResource(self.value(f"aws_secretsmanager_secret.{name}.arn"), self._tags(config),
                                     self.resolve(key) if key else None))
        for name, config in resources.get("aws_db_instance", {}).items():
            if config.get("manage_master_user_password"):
                key = self._attribute("aws_db_instance", name, config, "master_user_secret[0].kms_key_id")
                found.append(AwsResource(
                    self.value(f"aws_db_instance.{name}.master_user_secret[0].secret_arn"),
                    {"aws:rds:primaryDBInstanceArn": self.value(f"aws_db_instance.{name}.arn"),
                     "aws:secretsmanager:owningService": "rds"}, key))
        for name, config in resources.get("aws_s3_bucket", {}).items():
            found.append(AwsResource(self.value(f"aws_s3_bucket.{name}.arn"), self._tags(config)))
        for name, config in resources.get("aws_cloudwatch_log_group", {}).items():
            found.append(AwsResource(self.value(f"aws_cloudwatch_log_group.{name}.arn"), self._tags(config),
                                     self.resolve(config["kms_key_id"]) if config.get("kms_key_id") else None))
        return found

    def secrets(self) -> list[AwsResource]:
        return [r for r in self.inventory() if r.service == "secretsmanager"]

    def by_arn(self, arn: str) -> AwsResource:
        for resource in self.inventory():
            if resource.arn == arn:
                return resource
        raise ValueError(f"{arn} is not a resource of this stack")


# --- roles ------------------------------------------------------------------------------------

def aws_managed_policy(arn: str) -> dict[str, Any]:
    """An AWS-managed policy's document, as moto 5.2.5 ships it (a copy of AWS's, of its date)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)[arn.rsplit("/", 1)[-1]]["Document"]


@dataclass(frozen=True)
class StackRole:
    address: str  # aws_iam_role.<name> in the stack
    name: str
    identity: tuple[dict, ...]  # inline policies, then managed attachments
    boundary_arn: str | None


def stack_roles(resolver: StackResolver) -> list[StackRole]:
    """Every `aws_iam_role` of the stack with its inline policies (`aws_iam_role_policy`) and
    managed attachments (`aws_iam_role_policy_attachment`), references resolved."""
    resources = resolver.stack.get("resource", {})
    roles = []
    for name, config in resources.get("aws_iam_role", {}).items():
        unsupported = {"inline_policy", "managed_policy_arns"} & set(config)
        if unsupported:
            raise ValueError(f"aws_iam_role.{name}: {sorted(unsupported)} is not read by tools/iam_resolve.py")
        ours = {f"${{aws_iam_role.{name}.id}}", f"${{aws_iam_role.{name}.name}}"}
        inline = [json.loads(resolver.resolve(p["policy"]))
                  for p in resources.get("aws_iam_role_policy", {}).values() if p["role"] in ours]
        managed = [aws_managed_policy(resolver.resolve(a["policy_arn"]))
                   for a in resources.get("aws_iam_role_policy_attachment", {}).values() if a["role"] in ours]
        boundary = config.get("permissions_boundary")
        roles.append(StackRole(f"aws_iam_role.{name}", resolver.resolve(config["name"]), tuple(inline + managed),
                               resolver.resolve(boundary) if boundary else None))
    return roles


# --- grants: what a role's own policies give, one request each --------------------------------

@dataclass(frozen=True)
class Grant:
    """One (action, resource, condition values) an Allow statement of a role gives."""

    action: str
    resource: str
    context: dict[str, Any]


_POSITIVE = ("StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool")


def _condition_requests(condition: dict) -> Iterator[dict[str, Any]]:
    """Request contexts that satisfy a statement's condition: one per combination of its values."""
    choices: list[list[tuple[str, Any]]] = []
    for operator, keys in condition.items():
        qualifier, _, base = operator.rpartition(":")
        if base not in _POSITIVE:
            raise ValueError(f"a grant under {operator!r}: tools/iam_resolve.py makes no request for it")
        for key, values in keys.items():
            values = [values] if isinstance(values, str) else list(values)
            if qualifier:  # a multivalued key: the request carries them all
                choices.append([(key, [as_instance(v) for v in values])])
            else:
                choices.append([(key, as_instance(v)) for v in values])
    for combination in itertools.product(*choices):
        yield dict(combination)


def grants(role: StackRole, resolver: StackResolver) -> Iterator[Grant]:
    """Each Allow of the role's own policies, as requests. A grant on a wildcard resource is
    asked on each resource of this stack it reaches (of its service), where there are any:
    what it reaches elsewhere in the account the boundary may cut, which is its purpose."""
    inventory = resolver.inventory()
    for policy in role.identity:
        found = policy["Statement"]
        for statement in [found] if isinstance(found, dict) else found:
            if statement["Effect"] != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                raise ValueError(f"{role.address}: a grant with NotAction/NotResource is too broad to list")
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            patterns = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
            for action, pattern in itertools.product(actions, patterns):
                service = action.split(":")[0].lower()
                reached = [r for r in inventory if r.service == service and glob_match(pattern, r.arn)]
                targets = [(r.arn, r.context()) for r in reached] if "*" in pattern and reached else [
                    (as_instance(pattern), _known_context(inventory, pattern))]
                for (resource, tags), condition in itertools.product(
                        targets, list(_condition_requests(statement.get("Condition", {})))):
                    yield Grant(as_instance(action), resource, {**tags, **condition})


def _known_context(inventory: list[AwsResource], arn: str) -> dict[str, str]:
    for resource in inventory:
        if resource.arn == arn:
            return resource.context()
    return {}
