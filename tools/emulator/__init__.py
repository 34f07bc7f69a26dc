"""Rehearse the infra stack against moto, an AWS emulator on 127.0.0.1 (see docs/emulator.md).

- `moto_server`: start and stop one moto server process.
- `moto_faithful`: the module that server runs: `moto.server` with each RDS instance its own `DbiResourceId`
  and a point-in-time restore no read replica.
- `adapt`: the one place that turns the synthesized infra JSON into what moto can apply.
- `cycle`: the phases (init, validate, plan, apply, re-plan, destroy) and the inventory of
  what is left, shared by `tests/test_emulator.py` and `rehearse`.
- `rehearse`: the command users run (`make rehearse`).
"""
