# Entry points. `make synth` and `make test` work on a fresh clone with Python 3.11+,
# Node 22 (20 still works) and Terraform 1.11+ (see README.md).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := synth

PYTHON ?= python3
PIPENV_VERSION := 2026.10.3
# pipenv lives in its own small venv so nothing is installed into the system Python.
TOOLS := $(CURDIR)/.tools
PIPENV := $(TOOLS)/bin/pipenv
HELM := $(TOOLS)/helm/v3.19.0/helm

export PATH := $(TOOLS)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_NOSPIN := 1
export PIPENV_IGNORE_VIRTUALENVS := 1
export PIPENV_VERBOSITY := -1
export CHECKPOINT_DISABLE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 1
# The Pipfile names its index as ${PYPI_URL}; default it to pip's own default index.
PYPI_URL ?= $(shell $(PYTHON) -c "from pip._internal.models.index import PyPI; print(PyPI.simple_url)")
export PYPI_URL

.PHONY: setup synth test bench deploy destroy clean rehearse rehearse-apps rotate-db-password migrate-state

setup: .venv/.synced tools/security/.venv/.synced node_modules/.synced $(HELM)

# helm v3, pinned and checksummed, for rendering the charts in tests (tools/helm_binary.py).
$(HELM): tools/helm_binary.py .venv/.synced
	$(PIPENV) run python -m tools.helm_binary

$(PIPENV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "pipenv==$(PIPENV_VERSION)"

.venv/.synced: Pipfile.lock $(PIPENV)
	$(PIPENV) sync --dev
	touch $@

# checkov lives apart: it cannot share a dependency set with Airflow (tools/security/Pipfile).
tools/security/.venv/.synced: tools/security/Pipfile.lock $(PIPENV)
	cd tools/security && $(PIPENV) sync
	touch $@

node_modules/.synced: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## synthesize every stack to cdktf.out/stacks/{infra,apps,bootstrap}/cdk.tf.json (no AWS account needed)
synth: setup
	cdktf synth

## run the whole test suite
test: setup
	$(PIPENV) run pytest

## print synthesis time and memory figures, and each DAG file's parse time
bench: setup
	$(PIPENV) run python scripts/bench_synth.py
	$(PIPENV) run python scripts/bench_dag_parse.py

## apply and destroy the infra stack against moto, an AWS emulator on 127.0.0.1 (no AWS account needed)
rehearse: setup
	$(PIPENV) run python -m tools.emulator.rehearse

## run the rendered chart for real on loopback: PostgreSQL (TLS), PgBouncer, Redis, moto, every Airflow component (Linux, root)
rehearse-apps: setup
	$(PIPENV) run python -m tools.rehearse_apps

# Before any plan: refuse (exit 2) when the state the settings point at is another environment's.
STATE_GUARD := $(PIPENV) run python scripts/state_guard.py

## deploy both stacks in one run (needs AWS credentials); refuses another environment's state first
deploy: setup
	$(STATE_GUARD) infra apps
	cdktf deploy infra apps --auto-approve

## once, for a deployment from before one state per environment: move its state to its environment's key
migrate-state: setup
	$(PIPENV) run python scripts/migrate_state.py

## new password for Airflow's database role, then deploy apps: restarts PgBouncer and Airflow (README runbook)
rotate-db-password: setup
	$(STATE_GUARD) infra apps
	$(PIPENV) run python scripts/rotate_db_password.py

## destroy both stacks, apps first (needs AWS credentials)
destroy: setup
	$(STATE_GUARD) infra apps
	cdktf destroy apps infra --auto-approve

clean:
	rm -rf cdktf.out .venv node_modules $(TOOLS)
