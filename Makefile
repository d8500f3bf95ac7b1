# tierstack — the two commands: `make up` (local deployment) and `make test` (everything).
SHELL := /bin/bash
VENV  := .venv/bin
export PATH := $(CURDIR)/$(VENV):$(PATH)

.PHONY: setup up down test test-boot lint unit snapshots bench bench-lynis fmt requirements prices contract-docs

setup:            ## Python env from the lock file, system packages, emulators, test-host image
	bash scripts/setup.sh

up: setup         ## the local target: Podman systemd hosts converged by the Ansible roles
	$(VENV)/tierstack up local

down:             ## remove the local target's hosts (data volumes are kept)
	$(VENV)/tierstack down local

lint: setup       ## ruff, and ansible-lint (production profile) on the roles
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/actionlint -no-color
	if [ -d roles ]; then $(VENV)/ansible-lint --profile production roles playbooks; fi

test: lint        ## the whole suite (stacks, policies, apps, roles on real hosts, end-to-end)
	$(VENV)/pytest -m "not hosts" -n 2
	$(VENV)/pytest -m hosts

test-boot: setup  ## only the cloud boot test: every tier of every stack from its user data (31 hosts)
	$(VENV)/pytest -m hosts tests/e2e/test_cloud_boot.py

unit: setup       ## everything that needs no Podman host
	$(VENV)/pytest -m "not hosts" -n 2

snapshots: setup  ## rewrite the per-stack inventory snapshots after an intended change
	$(VENV)/pytest tests/stacks --update-snapshots -q

contract-docs:    ## regenerate the contract and component → resources tables of stacks/<cloud>/README.md
	$(VENV)/python -m stacks.common.contract_docs

bench: setup      ## benchmarks; figures go to BENCHMARKS.md by hand, with machine and date
	bash bench/run.sh

bench-lynis: setup  ## lynis index of an app host on a KVM guest (needs /dev/kvm; builds a cached disk)
	$(VENV)/python bench/bench_lynis_vm.py

fmt:
	$(VENV)/ruff check --fix .
	$(VENV)/ruff format .

requirements:     ## re-export the hosts' pinned requirements (with hashes) from uv.lock
	uv export --frozen --only-group apps --no-emit-project -q -o reference_apps/requirements.txt
	uv export --frozen --only-group boot --no-emit-project -q -o playbooks/requirements-ansible.txt

prices:           ## the report's price table: lines due for a check and how to refresh them
	$(VENV)/python -m tierstack.report.prices
