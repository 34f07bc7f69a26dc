"""Which CPU architecture an EC2 instance type has: the settings' rules (one architecture per
node group) and the node group's AMI type both ask."""

from __future__ import annotations


def is_graviton(instance_type: str) -> bool:
    """Graviton (arm64) families carry a `g` right after the generation: m7g, c7gn, t4g, r6gd."""
    family = instance_type.split(".")[0]
    after_generation = family.lstrip("abcdefghijklmnopqrstuvwxyz").lstrip("0123456789")
    return after_generation.startswith("g")
