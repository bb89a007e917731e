# hyperdock.platform developer entry points.  `make test` is what CI runs
# (.ci/run); `make lab` is the main job.  Every target sets up what it needs.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
export PATH := $(BIN):$(PATH)
export VIRTUAL_ENV := $(VENV)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
PYTEST ?= $(BIN)/pytest
PYTEST_ARGS ?=

.PHONY: help setup setup-quick images lint sanity unit integration molecule e2e test lab bench build docs clean distclean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup:  ## packages, daemons, venv, collection link, base images (idempotent)
	bash scripts/setup.sh

setup-quick:  ## as setup, without building base images
	bash scripts/setup.sh --no-images

images:  ## build (or reuse) the Molecule and guest base images
	bash scripts/images/build.sh all

lint: setup-quick  ## ruff, yamllint, ansible-lint (production profile)
	ruff check plugins tests benchmarks
	yamllint --strict .
	ansible-lint --profile production

sanity: setup-quick  ## ansible-test sanity on a clean copy of the collection
	bash scripts/sanity.sh

unit: setup-quick  ## pure and in-process (test:///default) tests
	$(PYTEST) tests/unit $(PYTEST_ARGS)

integration: setup  ## tasks against the real dockerd and libvirtd
	$(PYTEST) tests/integration $(PYTEST_ARGS)

molecule: setup  ## `molecule test` for every scenario in molecule/
	$(PYTEST) tests/molecule $(PYTEST_ARGS)

e2e: setup  ## the lab end to end (scripts/lab.sh, then its effects, teardown)
	$(PYTEST) tests/lab $(PYTEST_ARGS)

# One pytest run for unit, integration, Molecule and the lab end to end, so
# the output closes with a single summary line.
test: setup lint sanity  ## everything CI runs
	$(PYTEST) tests/unit tests/integration tests/molecule tests/lab $(PYTEST_ARGS)

lab: setup  ## the main job: the local lab (site.yml on inventories/lab)
	bash scripts/lab.sh

bench: setup  ## benchmarks against community.docker / community.libvirt
	bash benchmarks/run.sh

build:  ## the collection tarball (no tests, caches or venv inside)
	ansible-galaxy collection build --force --output-path build/

docs: setup-quick  ## render every module's documentation
	for m in $$(ansible-doc -l hyperdock.platform -j | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)))'); do ansible-doc $$m >/dev/null || exit 1; done

clean:  ## build and test outputs (keeps the venv and the image cache)
	rm -rf build tests/output .pytest_cache .ruff_cache lab-output benchmarks/results
	find . -name __pycache__ -prune -exec rm -rf {} +

distclean: clean  ## also the venv and the collection link
	rm -rf $(VENV) .collections
