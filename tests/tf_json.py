"""Reading synthesized Terraform JSON in tests."""

from __future__ import annotations


def resources(stack: dict, rtype: str) -> dict[str, dict]:
    return stack.get("resource", {}).get(rtype, {})


def only(stack: dict, rtype: str) -> dict:
    found = resources(stack, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {sorted(found)}"
    return next(iter(found.values()))


def ref(rtype: str, name: str, attr: str = "id") -> str:
    return "${" + f"{rtype}.{name}.{attr}" + "}"


def release_values(stack: dict) -> tuple[dict, dict]:
    """(helm/values.yaml, computed values) as the Airflow release passes them to Helm."""
    import yaml

    static, computed = chart_release(stack, "airflow")["values"]
    return yaml.safe_load(static), yaml.safe_load(computed)


def chart_release(stack: dict, chart: str) -> dict:
    """The one `helm_release` of `chart`."""
    found = [r for r in resources(stack, "helm_release").values() if r["chart"] == chart]
    assert len(found) == 1, f"expected one helm_release of chart {chart}, found {len(found)}"
    return found[0]


def without_metadata(value):
    """`value` without cdktf's "//" keys, at any depth (what `Testing.synth` leaves out)."""
    if isinstance(value, dict):
        return {k: without_metadata(v) for k, v in value.items() if k != "//"}
    if isinstance(value, list):
        return [without_metadata(v) for v in value]
    return value
