"""`max_connections` of an RDS for PostgreSQL instance on its default parameter: derived, as
RDS derives it, from the instance class's memory.

RDS's default PostgreSQL parameter groups set `max_connections` to
`LEAST({DBInstanceClassMemory/9531392},5000)` (RDS User Guide, "Quotas and constraints for
Amazon RDS", section "Maximum number of database connections"). DBInstanceClassMemory is the
class's memory less what RDS reserves for the OS and its own processes, so the real value is
somewhat lower than this one computed on the class's nominal memory (db.t4g.medium: 450 here,
about 410 on the instance): an alarm at a fraction of it fires a little later than that
fraction of the real limit, which the alarm's threshold accounts for.
"""

from __future__ import annotations

BYTES_PER_CONNECTION = 9531392
CEILING = 5000

# GiB of memory by size, per instance family letter: db.t*/db.m* (4 GiB per vCPU from large;
# burstable below), db.r* (8 GiB per vCPU). RDS instance class pages, "DB instance classes".
_GENERAL = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32, "4xlarge": 64,
            "8xlarge": 128, "12xlarge": 192, "16xlarge": 256, "24xlarge": 384}
_MEMORY_OPTIMIZED = {"large": 16, "xlarge": 32, "2xlarge": 64, "4xlarge": 128, "8xlarge": 256, "12xlarge": 384,
                     "16xlarge": 512, "24xlarge": 768}
_FAMILIES = {"t": _GENERAL, "m": _GENERAL, "r": _MEMORY_OPTIMIZED}


def class_memory_gib(instance_class: str) -> int:
    """Nominal memory of a db.t*, db.m* or db.r* class; ValueError naming the setting otherwise."""
    parts = instance_class.split(".")
    table = _FAMILIES.get(parts[1][:1]) if len(parts) == 3 and parts[0] == "db" else None
    if table is None or parts[2] not in table or (parts[1][0] == "t" and parts[2] not in
                                                   ("micro", "small", "medium", "large", "xlarge", "2xlarge")):
        raise ValueError(f"db_instance_class: {instance_class!r} has no known memory size for the connections "
                         "alarm; use a db.t*, db.m* or db.r* class such as db.t4g.medium or db.m7g.large")
    return table[parts[2]]


def default_max_connections(instance_class: str) -> int:
    return min(class_memory_gib(instance_class) * 1024 ** 3 // BYTES_PER_CONNECTION, CEILING)
