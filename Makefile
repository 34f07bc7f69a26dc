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

.PHONY: setup setup-synth setup-deploy synth plan test test-fast bench deploy destroy clean rehearse rehearse-apps rotate-db-password migrate-state

# Three tiers, each installing only what its commands use (Pipfile categories):
#   setup-synth   the runtime packages ([packages]) and cdktf-cli: all `make synth` needs
#   setup-deploy  + boto3 ([deploy-packages]): the state guard and the runbooks talk to AWS
#   setup         + the test tools ([dev-packages]: Airflow, moto, ...), checkov, helm
setup-synth: .venv/.runtime node_modules/.synced
setup-deploy: .venv/.deploy node_modules/.synced
setup: .venv/.synced tools/security/.venv/.synced node_modules/.synced $(HELM)

# helm v3, pinned and checksummed, for rendering the charts in tests (tools/helm_binary.py).
$(HELM): tools/helm_binary.py .venv/.synced
	$(PIPENV) run python -m tools.helm_binary

$(PIPENV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "pipenv==$(PIPENV_VERSION)"

# `pipenv sync` adds what a category lists and removes nothing, so a .venv set up for the
# tests still synthesizes.
.venv/.runtime: Pipfile.lock $(PIPENV)
	$(PIPENV) sync
	touch $@

.venv/.deploy: .venv/.runtime
	$(PIPENV) sync --categories "packages deploy-packages"
	touch $@

.venv/.synced: .venv/.deploy
	$(PIPENV) sync --categories "packages deploy-packages dev-packages"
	touch $@

# checkov lives apart: it cannot share a dependency set with Airflow (tools/security/Pipfile).
tools/security/.venv/.synced: tools/security/Pipfile.lock $(PIPENV)
	cd tools/security && $(PIPENV) sync
	touch $@

node_modules/.synced: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## synthesize every stack to cdktf.out/stacks/{infra,apps,bootstrap}/cdk.tf.json (no AWS account needed)
synth: setup-synth
	cdktf synth

## run the whole test suite (what CI runs)
test: setup
	$(PIPENV) run pytest

## the fast tier, under 2 minutes: synthesis, settings, snapshots, policies, chart render
## (no emulator, no rehearsal, no real servers, no terraform binary)
test-fast: setup
	$(PIPENV) run pytest -m "not slow"

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

# Where `make plan` keeps each stack's outcome (scripts/plan_comment.py, as on pull requests).
PLAN_RESULTS := cdktf.out/plan-results.json

## show what a deploy would change in infra, then apps; applies nothing (needs AWS credentials)
plan: setup-deploy
	$(STATE_GUARD) infra apps
	cdktf synth
	$(PIPENV) run python scripts/plan_comment.py plan --results $(PLAN_RESULTS) infra apps
	$(PIPENV) run python scripts/plan_comment.py check --results $(PLAN_RESULTS)

# cdktf shows each stack's plan and asks before applying it; CI (CI=true) has nobody to ask.
DEPLOY_APPROVAL := $(if $(filter true 1,$(CI)),--auto-approve,)

## deploy both stacks in one run: shows each plan and asks first, except in CI (needs AWS credentials)
deploy: setup-deploy
	$(STATE_GUARD) infra apps
	cdktf deploy infra apps $(DEPLOY_APPROVAL)

## once, for a deployment from before one state per environment: move its state to its environment's key
migrate-state: setup-deploy
	$(PIPENV) run python scripts/migrate_state.py

## new password for Airflow's database role, then deploy apps: restarts PgBouncer and Airflow (README runbook)
rotate-db-password: setup-deploy
	$(STATE_GUARD) infra apps
	$(PIPENV) run python scripts/rotate_db_password.py

## destroy both stacks, apps first (needs AWS credentials)
destroy: setup-deploy
	$(STATE_GUARD) infra apps
	cdktf destroy apps infra --auto-approve

clean:
	rm -rf cdktf.out .venv node_modules $(TOOLS)
