"""docs/costs.md's monthly cost table is what the stacks, the rendered chart and
docs/monthly-cost.yaml say, in both profiles."""

from __future__ import annotations

from paths import REPO
from tools.costs import load_prices, markdown_table, monthly_lines


def test_the_readme_cost_table_is_computed_from_the_stacks(synth, rendered, synth_prod_http, rendered_prod_http):
    prod = rendered_prod_http
    table = markdown_table({"dev": (synth.settings, synth.infra, rendered.manifests),
                            "prod": (synth_prod_http.settings, synth_prod_http.infra, prod.manifests)}, load_prices())
    assert table in (REPO / "docs" / "costs.md").read_text(), "regenerate it: python -m tools.costs\n" + table


def test_every_line_counts_what_the_stack_creates(synth, rendered):
    data = load_prices()
    lines = {line.what.split(" (")[0]: line for line in monthly_lines(synth.settings, synth.infra,
                                                                      rendered.manifests, data)}
    nat = len(synth.infra["resource"]["aws_nat_gateway"])
    assert lines["NAT gateways"].at_min > nat * data["prices"]["nat_gateway_hour"] * 730 > 0
    assert lines["nodes"].at_max > lines["nodes"].at_min > 0  # the autoscaler's range costs money
    assert lines["Airflow volumes"].at_min > 0  # the chart's volume claims, from the render
