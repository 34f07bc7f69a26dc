"""docs/costs.md's monthly cost table is what the stacks, the rendered chart and
docs/monthly-cost.yaml say, in both profiles."""

from __future__ import annotations

from paths import REPO
from tools.costs import load_prices, markdown_table, monthly_lines


def test_the_readme_cost_table_is_computed_from_the_stacks(synth, rendered, synth_prod_http, rendered_prod_http):
    prod = rendered_prod_http
    table = markdown_table({"dev": (synth.settings, synth.infra, rendered.manifests),
                            "prod": (synth_prod_http.settings, synth_prod_http.infra, prod.manifests)}, load_prices())
    assert table in (REPO / "docs" / "costs.md").read_text(), "regenerate it: .venv/bin/python -m tools.costs\n" + table


def test_every_line_counts_what_the_stack_creates(synth, rendered):
    data = load_prices()
    lines = {line.what.split(" (")[0]: line for line in monthly_lines(synth.settings, synth.infra,
                                                                      rendered.manifests, data)}
    nat = len(synth.infra["resource"]["aws_nat_gateway"])
    assert lines["NAT gateways"].at_min > nat * data["prices"]["nat_gateway_hour"] * 730 > 0
    assert lines["nodes"].at_max > lines["nodes"].at_min > 0  # the autoscaler's range costs money
    assert lines["Airflow volumes"].at_min > 0  # the chart's volume claims, from the render


def test_an_internet_facing_ui_pays_for_its_public_addresses(synth, rendered):
    """An internet-facing NLB holds a public IPv4 address per AZ (billed hourly since 2024-02); internal, none."""
    data = load_prices()
    internet_facing = synth.settings.model_copy(update={"ui_exposure": "internet-facing"})

    def nlb(settings):
        [line] = [line for line in monthly_lines(settings, synth.infra, rendered.manifests, data)
                  if line.what.startswith("Network Load Balancer")]
        return line

    extra = nlb(internet_facing).at_min - nlb(synth.settings).at_min
    zones = len(synth.settings.availability_zones)
    assert abs(extra - zones * data["prices"]["public_ipv4_hour"] * data["hours_per_month"]) < 1e-9 and extra > 0
    assert "internal" in nlb(synth.settings).what and f"{zones} public IPv4" in nlb(internet_facing).what
