"""The Kubernetes Service in front of the API server (the UI): an internal or internet-facing NLB.

EKS's in-tree service controller (the legacy AWS cloud provider in the cloud controller manager)
makes the Network Load Balancer from these annotations; docs/security.md says why the AWS Load
Balancer Controller is not installed. What each annotation means to that controller, from its
source (kubernetes/cloud-provider-aws, pkg/providers/v1/aws.go, EnsureLoadBalancer):

- `aws-load-balancer-internal`: any value other than "false" (or absent) makes the load balancer
  internal, placed in the subnets tagged `kubernetes.io/role/internal-elb` (EksVpc's private
  subnets); "false" or absent makes it internet-facing, in the `kubernetes.io/role/elb` ones.
- `aws-load-balancer-scheme` is read only by the AWS Load Balancer Controller (its annotation
  reference: "aws-load-balancer-internal ... deprecated, in favor of aws-load-balancer-scheme");
  written with the same meaning so that the Service means one thing to either controller.
- `loadBalancerSourceRanges`: the controller writes them as the node security group's ingress
  rules for the listener ports (instance targets keep the client's address).
- `aws-load-balancer-ssl-cert` + `ssl-ports`: a TLS listener on those ports with the ACM
  certificate. Only 443 is offered then, so port 80 does not exist on the load balancer.
"""

from __future__ import annotations

from airflow_platform.constructs.airflow_release_props import LoadBalancedUi

ANNOTATION_PREFIX = "service.beta.kubernetes.io/aws-load-balancer-"
HEALTH_PATH = "/api/v2/monitor/health"


def api_server_service(ui: LoadBalancedUi) -> dict:
    """The chart's `apiServer.service`: a LoadBalancer Service the in-tree controller turns into an NLB."""
    prefix = ANNOTATION_PREFIX
    annotations = {
        f"{prefix}type": "nlb",
        f"{prefix}scheme": ui.exposure,
        f"{prefix}internal": "true" if ui.internal else "false",
        f"{prefix}healthcheck-protocol": "HTTP",
        f"{prefix}healthcheck-path": HEALTH_PATH,
        f"{prefix}healthcheck-port": "traffic-port",
    }
    if ui.certificate_arn:
        annotations |= {f"{prefix}ssl-cert": ui.certificate_arn, f"{prefix}ssl-ports": "https"}
        ports = [{"name": "https", "port": 443, "targetPort": "api-server"}]
    else:
        ports = [{"name": "http", "port": 80, "targetPort": "api-server"}]
    return {"type": "LoadBalancer", "annotations": annotations, "ports": ports,
            "loadBalancerSourceRanges": list(ui.source_cidrs)}
