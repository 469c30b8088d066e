# ckos developer entry points. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready

.PHONY: setup run run-memory test check bench soak generate clean deb rpm

setup: $(READY)

$(READY): pyproject.toml constraints.txt scripts/setup-system
	scripts/setup-system
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

run: $(READY)
	scripts/run-dev

run-memory: $(READY)
	$(BIN)/cloudkeeper-os serve --config config/dev.toml

check: $(READY)
	$(BIN)/python scripts/generate_proto.py --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: check
	$(BIN)/pytest

# Glance and Keystone requests per steady-state sync, a site cycle, then image transfer speed and the
# daemon's memory against the glance command line, and `cloudkeeper-os sync` from an OCI registry and
# from a signed HEPiX list against the shell (and the core); each on a devcloud of its own (about 30
# minutes in all on a 2-vCPU machine).
bench: $(READY)
	$(BIN)/python bench/requests_per_sync.py
	$(BIN)/python bench/site_cycle.py
	$(BIN)/python bench/transfer.py
	$(BIN)/python bench/sync_oci.py
	$(BIN)/python bench/sync_hepix.py

# dist/cloudkeeper-os_VERSION-1_amd64.deb (Debian 12) and dist/cloudkeeper-os-VERSION-1.el9.x86_64.rpm
# (EL9): a venv in /opt/cloudkeeper-os with the pinned dependencies, the units, the sample
# configuration and the cloudkeeper-os user (packaging/build.py; dpkg-deb, rpmbuild from Debian's rpm).
deb: $(READY)
	scripts/setup-packaging
	$(BIN)/python packaging/build.py deb

rpm: $(READY)
	scripts/setup-packaging
	$(BIN)/python packaging/build.py rpm

# The long reliability runs (docs/reliability.md): 7 load rounds of three per-VO cores with 50
# appliances each, 20 racing adds, 10,000 hostile requests; on a devcloud of its own (~10 minutes).
soak: $(READY)
	$(BIN)/python bench/soak.py

generate: $(READY)
	$(BIN)/python scripts/generate_proto.py

clean:
	-test -d .devcloud && python3 scripts/devcloud down .devcloud
	rm -rf $(VENV) .devcloud .mypy_cache .ruff_cache .pytest_cache .hypothesis
