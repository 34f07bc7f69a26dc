"""What the synthesized infra stack promises, construct by construct."""

from __future__ import annotations

import ipaddress

import pytest

# The provider classes, for their TF_RESOURCE_TYPE: imported lazily (airflow_platform,
# imported by conftest.py first, loads only the submodules named here).
from cdktf import Testing
from cdktf_cdktf_provider_aws.db_instance import DbInstance
from cdktf_cdktf_provider_aws.db_parameter_group import DbParameterGroup
from cdktf_cdktf_provider_aws.eks_access_entry import EksAccessEntry
from cdktf_cdktf_provider_aws.eks_addon import EksAddon
from cdktf_cdktf_provider_aws.eks_cluster import EksCluster
from cdktf_cdktf_provider_aws.launch_template import LaunchTemplate
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA
from cdktf_cdktf_provider_aws.vpc_peering_connection_options import VpcPeeringConnectionOptions
from tf_json import only, ref, resources

# Testing.to_have_resource_with_properties(json, type, properties): SOME resource of the type
# has these properties (objects may hold more keys; lists must match in length and order).
# Where the promise is about the one resource of its type, `only()` asserts there is one.


def vpc_names(stack) -> dict[str, str]:
    """`eks`/`rds` -> the resource name of that VPC."""
    return {r["tags"]["Name"].split("-")[-1]: n for n, r in resources(stack, "aws_vpc").items()}


def test_only_the_aws_provider(synth):
    assert set(synth.infra["provider"]) == {"aws"}
    assert set(synth.infra["terraform"]["required_providers"]) == {"aws"}
    assert synth.infra["terraform"]["required_providers"]["aws"]["version"] == "5.100.0"


def test_two_vpcs_with_disjoint_cidrs_and_dns(synth):
    vpcs = resources(synth.infra, "aws_vpc")
    assert len(vpcs) == 2
    a, b = (ipaddress.ip_network(v["cidr_block"]) for v in vpcs.values())
    assert not a.overlaps(b)
    assert all(v["enable_dns_support"] and v["enable_dns_hostnames"] for v in vpcs.values())


def test_default_security_groups_have_no_rules(synth):
    groups = resources(synth.infra, "aws_default_security_group")
    assert {g["vpc_id"] for g in groups.values()} == {ref("aws_vpc", n) for n in vpc_names(synth.infra).values()}
    assert all(g["ingress"] == [] and g["egress"] == [] for g in groups.values())


def test_both_vpcs_have_flow_logs_to_encrypted_log_groups(synth):
    logs = resources(synth.infra, "aws_flow_log")
    assert {f["vpc_id"] for f in logs.values()} == {ref("aws_vpc", n) for n in vpc_names(synth.infra).values()}
    assert all(f["traffic_type"] == "ALL" for f in logs.values())
    assert all("kms_key_id" in g for g in resources(synth.infra, "aws_cloudwatch_log_group").values())


def test_eks_subnets_span_two_azs_with_load_balancer_tags(synth):
    subnets = resources(synth.infra, "aws_subnet")
    eks_vpc = ref("aws_vpc", vpc_names(synth.infra)["eks"])
    public = [s for s in subnets.values() if s["vpc_id"] == eks_vpc and s["tags"].get("kubernetes.io/role/elb") == "1"]
    private = [s for s in subnets.values()
               if s["vpc_id"] == eks_vpc and s["tags"].get("kubernetes.io/role/internal-elb") == "1"]
    assert len({s["availability_zone"] for s in public}) == 2
    assert len({s["availability_zone"] for s in private}) == 2
    assert not any(s.get("map_public_ip_on_launch") for s in subnets.values())
    cluster_tag = f"kubernetes.io/cluster/{synth.settings.cluster_name}"
    assert all(s["tags"][cluster_tag] == "shared" for s in public + private)


def test_nat_gateways_follow_the_profile(synth, synth_prod):
    assert len(resources(synth.infra, "aws_nat_gateway")) == 1
    assert len(resources(synth_prod.infra, "aws_nat_gateway")) == 2
    # each private route table in prod goes through the NAT of its own AZ
    prod_defaults = [r for r in resources(synth_prod.infra, "aws_route").values()
                     if r["destination_cidr_block"] == "0.0.0.0/0" and "nat_gateway_id" in r]
    assert len({r["nat_gateway_id"] for r in prod_defaults}) == 2


def test_rds_vpc_is_private_by_default_with_a_subnet_group_over_two_azs(synth):
    rds_vpc = ref("aws_vpc", vpc_names(synth.infra)["rds"])
    assert not [g for g in resources(synth.infra, "aws_internet_gateway").values() if g["vpc_id"] == rds_vpc]
    group = only(synth.infra, "aws_db_subnet_group")
    subnets = resources(synth.infra, "aws_subnet")
    members = [subnets[s.split(".")[1]] for s in group["subnet_ids"]]
    assert {s["vpc_id"] for s in members} == {rds_vpc}
    assert len({s["availability_zone"] for s in members}) == 2


def test_peering_routes_both_ways_with_dns(synth):
    s = synth.settings
    peering_name, peering = next(iter(resources(synth.infra, "aws_vpc_peering_connection").items()))
    names = vpc_names(synth.infra)
    assert peering["vpc_id"] == ref("aws_vpc", names["eks"]) and peering["peer_vpc_id"] == ref("aws_vpc", names["rds"])
    assert peering["auto_accept"] is True
    only(synth.infra, "aws_vpc_peering_connection_options")
    assert Testing.to_have_resource_with_properties(
        synth.testing_synth("infra"), VpcPeeringConnectionOptions.TF_RESOURCE_TYPE,
        {"requester": {"allow_remote_vpc_dns_resolution": True}, "accepter": {"allow_remote_vpc_dns_resolution": True}})

    tables = resources(synth.infra, "aws_route_table")
    via_peering = [r for r in resources(synth.infra, "aws_route").values()
                   if r.get("vpc_peering_connection_id") == ref("aws_vpc_peering_connection", peering_name)]
    to_rds = {r["route_table_id"] for r in via_peering if r["destination_cidr_block"] == str(s.rds_vpc_cidr)}
    to_eks = {r["route_table_id"] for r in via_peering if r["destination_cidr_block"] == str(s.eks_vpc_cidr)}
    eks_private = {ref("aws_route_table", n) for n, t in tables.items()
                   if t["vpc_id"] == ref("aws_vpc", names["eks"]) and "private" in t["tags"]["Name"]}
    rds_tables = {ref("aws_route_table", n) for n, t in tables.items() if t["vpc_id"] == ref("aws_vpc", names["rds"])}
    assert to_rds == eks_private and len(eks_private) == 2
    assert to_eks == rds_tables and rds_tables


def test_database_admits_postgres_only_from_the_node_security_group(synth):
    groups = resources(synth.infra, "aws_security_group")
    db_sg = next(n for n, g in groups.items() if g["name"].endswith("-metadata-db"))
    node_sg = next(n for n, g in groups.items() if g["name"].endswith("-eks-nodes"))
    assert "ingress" not in groups[db_sg] and "egress" not in groups[db_sg]  # no inline rules
    rules = [r for r in resources(synth.infra, "aws_security_group_rule").values()
             if r["security_group_id"] == ref("aws_security_group", db_sg)]
    assert len(rules) == 1
    rule = rules[0]
    assert (rule["type"], rule["protocol"], rule["from_port"], rule["to_port"]) == ("ingress", "tcp", 5432, 5432)
    assert rule["source_security_group_id"] == ref("aws_security_group", node_sg)
    assert "cidr_blocks" not in rule and "ipv6_cidr_blocks" not in rule
    assert only(synth.infra, "aws_db_instance")["vpc_security_group_ids"] == [ref("aws_security_group", db_sg)]


def test_database_is_private_encrypted_and_forces_tls(synth):
    db = only(synth.infra, "aws_db_instance")
    assert Testing.to_have_resource_with_properties(synth.testing_synth("infra"), DbInstance.TF_RESOURCE_TYPE, {
        "publicly_accessible": False, "storage_encrypted": True, "manage_master_user_password": True,
        "engine": "postgres", "engine_version": synth.settings.db_engine_version})
    assert db["kms_key_id"].startswith("${aws_kms_key.") and "password" not in db
    assert db["backup_retention_period"] >= 7
    assert set(db["enabled_cloudwatch_logs_exports"]) >= {"postgresql"}
    params = only(synth.infra, "aws_db_parameter_group")
    assert db["parameter_group_name"] == "${aws_db_parameter_group." + next(
        iter(resources(synth.infra, "aws_db_parameter_group"))) + ".name}"
    assert {"name": "rds.force_ssl", "value": "1"} in params["parameter"]  # among others: by hand
    assert Testing.to_have_resource_with_properties(synth.testing_synth("infra"), DbParameterGroup.TF_RESOURCE_TYPE,
                                                    {"family": "postgres" + synth.settings.db_engine_version.split(".")[0]})


def test_database_profile_choices(synth, synth_prod):
    only(synth.infra, "aws_db_instance")
    prod = only(synth_prod.infra, "aws_db_instance")
    assert Testing.to_have_resource_with_properties(synth.testing_synth("infra"), DbInstance.TF_RESOURCE_TYPE,
                                                    {"multi_az": False, "deletion_protection": False,
                                                     "skip_final_snapshot": True})
    assert Testing.to_have_resource_with_properties(synth_prod.testing_synth("infra"), DbInstance.TF_RESOURCE_TYPE,
                                                    {"multi_az": True, "deletion_protection": True,
                                                     "skip_final_snapshot": False})
    assert prod["final_snapshot_identifier"]


def test_eks_encryption_logs_and_endpoint_access(synth):
    cluster = only(synth.infra, "aws_eks_cluster")
    assert Testing.to_have_resource_with_properties(synth.testing_synth("infra"), EksCluster.TF_RESOURCE_TYPE, {
        "version": synth.settings.eks_version,
        "encryption_config": {"resources": ["secrets"]},
        "vpc_config": {"endpoint_private_access": True,
                       "public_access_cidrs": [str(net) for net in synth.settings.cluster_endpoint_public_cidrs]},
        "access_config": {"authentication_mode": "API"},
    })
    assert cluster["encryption_config"]["provider"]["key_arn"].startswith("${aws_kms_key.")
    assert set(cluster["enabled_cluster_log_types"]) == {"api", "audit", "authenticator", "controllerManager",
                                                          "scheduler"}  # in any order: by hand
    # the log group exists before the cluster, or EKS creates an unencrypted one forever
    log_group = next(n for n, g in resources(synth.infra, "aws_cloudwatch_log_group").items()
                     if g["name"] == f"/aws/eks/{synth.settings.cluster_name}/cluster")
    assert f"aws_cloudwatch_log_group.{log_group}" in cluster["depends_on"]


@pytest.mark.parametrize("profile", ["synth", "synth_prod"])
def test_the_cluster_never_drifts_into_extended_support(request, profile):
    """`upgrade_policy.support_type = STANDARD`, in every profile.

    EKS API reference, UpgradePolicyRequest: "Clusters in extended support have higher costs.
    The default value is EXTENDED. Use STANDARD to disable extended support"; EKS user guide,
    "View current cluster upgrade policy": with STANDARD the cluster "will be automatically
    upgraded" at the end of standard support, and "Enable extended support": clusters created
    with the API (as Terraform does) have extended support enabled unless told otherwise.
    Amazon EKS pricing: $0.10 per cluster-hour in standard support, $0.60 in extended support.
    """
    synthesized = request.getfixturevalue(profile)
    (cluster,) = resources(synthesized.infra, "aws_eks_cluster").values()
    assert cluster.get("upgrade_policy") == {"support_type": "STANDARD"}, (
        f"{profile}: without support_type STANDARD the cluster enters extended support (6x the price)")


def test_admin_access_entries(synth, synth_prod):
    """dev: no admin, no CI (tests/test_cluster_access.py covers the CI roles' entries): the
    metrics collector's entry alone, mapped to its Kubernetes user, no access policy."""
    entries = resources(synth.infra, "aws_eks_access_entry").values()
    assert [(e["principal_arn"].split(".")[0], e.get("user_name")) for e in entries] == [
        ("${aws_prometheus_scraper", "aps-collector-user")]
    assert not resources(synth.infra, "aws_eks_access_policy_association")
    assert Testing.to_have_resource_with_properties(synth_prod.testing_synth("infra"), EksAccessEntry.TF_RESOURCE_TYPE,
                                                    {"principal_arn": "arn:aws:iam::123456789012:role/platform-admins"})
    associations = resources(synth_prod.infra, "aws_eks_access_policy_association").values()
    assert len(associations) == 2  # the admin and the deploy role
    assert all(a["policy_arn"].endswith(":cluster-access-policy/AmazonEKSClusterAdminPolicy") for a in associations)


def test_nodes_require_imdsv2_and_encrypted_volumes_in_private_subnets(synth):
    template = only(synth.infra, "aws_launch_template")
    node_sg = next(n for n, g in resources(synth.infra, "aws_security_group").items() if g["name"].endswith("-eks-nodes"))
    assert Testing.to_have_resource_with_properties(synth.testing_synth("infra"), LaunchTemplate.TF_RESOURCE_TYPE, {
        "metadata_options": {"http_tokens": "required", "http_put_response_hop_limit": 1},
        "vpc_security_group_ids": [ref("aws_security_group", node_sg)],
    })
    ebs = template["block_device_mappings"][0]["ebs"]
    assert ebs["encrypted"] == "true" and ebs["volume_type"] == "gp3"
    assert "tags" not in template  # tags go through tag_specifications

    group = only(synth.infra, "aws_eks_node_group")
    private = {ref("aws_subnet", n) for n, s in resources(synth.infra, "aws_subnet").items()
               if s["tags"].get("kubernetes.io/role/internal-elb") == "1"}
    assert set(group["subnet_ids"]) == private
    assert group["launch_template"]["id"].startswith("${aws_launch_template.")
    s = synth.settings
    assert group["scaling_config"] == {"min_size": s.node_min_size, "desired_size": s.node_desired_size,
                                       "max_size": s.node_max_size}


def _trust(stack, role_name_suffix):
    """The statements of an IRSA role's trust policy document, in the data source's shape."""
    role = next(r for r in resources(stack, "aws_iam_role").values() if r["name"].endswith(role_name_suffix))
    document = role["assume_role_policy"].removeprefix("${data.aws_iam_policy_document.").removesuffix(".json}")
    return stack["data"]["aws_iam_policy_document"][document]["statement"]


def _conditions(statement) -> dict[str, list[str]]:
    """`sub`/`aud` -> values of the StringEquals conditions."""
    assert all(c["test"] == "StringEquals" for c in statement["condition"])
    return {c["variable"].rsplit(":", 1)[1]: c["values"] for c in statement["condition"]}


def test_ebs_csi_add_on_with_its_own_role_for_its_service_account_only(synth):
    assert [a["addon_name"] for a in resources(synth.infra, "aws_eks_addon").values()].count("aws-ebs-csi-driver") == 1
    role_name = next(n for n, r in resources(synth.infra, "aws_iam_role").items() if r["name"].endswith("-ebs-csi-driver"))
    assert Testing.to_have_resource_with_properties(synth.testing_synth("infra"), EksAddon.TF_RESOURCE_TYPE, {
        "addon_name": "aws-ebs-csi-driver", "service_account_role_arn": ref("aws_iam_role", role_name, "arn")})
    [statement] = _trust(synth.infra, "-ebs-csi-driver")
    assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["principals"][0]["identifiers"][0].startswith("${aws_iam_openid_connect_provider.")
    assert _conditions(statement) == {"sub": ["system:serviceaccount:kube-system:ebs-csi-controller-sa"],
                                      "aud": ["sts.amazonaws.com"]}
    attachments = [a for a in resources(synth.infra, "aws_iam_role_policy_attachment").values()
                   if a["role"] == ref("aws_iam_role", role_name, "name")]
    assert [a["policy_arn"].split("/")[-1] for a in attachments] == ["AmazonEBSCSIDriverPolicy"]


def test_task_logs_bucket_is_encrypted_versioned_and_private(synth):
    bucket_name = next(iter(resources(synth.infra, "aws_s3_bucket")))
    bucket_id = ref("aws_s3_bucket", bucket_name)
    only(synth.infra, "aws_s3_bucket_public_access_block")
    infra = synth.testing_synth("infra")
    assert Testing.to_have_resource_with_properties(infra, S3BucketPublicAccessBlock.TF_RESOURCE_TYPE, {
        "bucket": bucket_id, "block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True,
        "restrict_public_buckets": True})
    encryption = only(synth.infra, "aws_s3_bucket_server_side_encryption_configuration")
    assert encryption["rule"][0]["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
    only(synth.infra, "aws_s3_bucket_versioning")
    assert Testing.to_have_resource_with_properties(infra, S3BucketVersioningA.TF_RESOURCE_TYPE,
                                                    {"versioning_configuration": {"status": "Enabled"}})


def test_airflow_roles_trust_exactly_their_components_service_accounts(synth):
    ns = synth.settings.airflow_namespace
    for suffix, components in (("-airflow", ("worker", "triggerer")), ("-airflow-api-server", ("api-server",))):
        [statement] = _trust(synth.infra, suffix)
        assert sorted(_conditions(statement)["sub"]) == sorted(f"system:serviceaccount:{ns}:airflow-{c}"
                                                              for c in components)


def test_kms_keys_rotate(synth):
    keys = resources(synth.infra, "aws_kms_key")
    assert keys and all(k["enable_key_rotation"] is True for k in keys.values())


def test_outputs_are_plain_values(synth):
    outputs = synth.infra["output"]
    for name in ("cluster_name", "db_address", "db_port", "db_name", "db_secret_arn", "airflow_worker_role_arn",
                 "airflow_triggerer_role_arn", "airflow_api_server_role_arn", "logs_bucket_name"):
        assert name in outputs
        assert not outputs[name].get("sensitive")  # cdktf's own cross-stack outputs are sensitive; ours are plain


def test_node_security_group_is_tagged_for_the_cluster_load_balancers(synth):
    """EKS's controller opens the UI's source ranges on the group tagged for the cluster."""
    node_sg = next(g for g in resources(synth.infra, "aws_security_group").values() if g["name"].endswith("-eks-nodes"))
    assert node_sg["tags"][f"kubernetes.io/cluster/{synth.settings.cluster_name}"] == "owned"
    others = [g for g in resources(synth.infra, "aws_security_group").values() if g is not node_sg]
    assert not any(k.startswith("kubernetes.io/cluster/") for g in others for k in g.get("tags", {}))
