# Two commands matter: `make demo` and `make test`. Both set everything up on a machine that has
# only python3 (>= 3.11), pip and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORE_VENV := .venv-core
PROVIDERS := $(wildcard providers/*/pyproject.toml)
CORE_SOURCES := $(shell find core/src -name '*.py' -o -name py.typed) core/pyproject.toml

.PHONY: setup test lint typecheck demo example sandbox bench docs record clean

$(STAMP): pyproject.toml core/pyproject.toml $(PROVIDERS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q --disable-pip-version-check -e "./core[all]" \
		$(foreach p,$(PROVIDERS),-e ./$(dir $(p))) --group dev
	@touch $@

# A second environment with nothing but core/: proves the core never imports a provider.
$(CORE_VENV)/.installed: $(CORE_SOURCES)
	@test -x $(CORE_VENV)/bin/python || $(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install -q --disable-pip-version-check ./core
	$(CORE_VENV)/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./core
	@touch $@

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy core/src $(foreach p,$(PROVIDERS),$(dir $(p))src)

test: $(STAMP) $(CORE_VENV)/.installed lint typecheck docs
	$(BIN)/python -m pytest

# The documentation site; --strict turns broken links and references into failures.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

demo: $(STAMP)
	$(BIN)/paymux demo

# The example checkout (docs/example-checkout.md) and the sandbox behind it, on loopback.
example: $(STAMP)
	$(BIN)/python -m docs.examples.checkout

sandbox: $(STAMP)
	$(BIN)/paymux sandbox

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Re-record one provider's cassettes against its real test API, e.g.
#   ECOMMPAY_PROJECT_ID=... ECOMMPAY_SECRET_KEY=... make record PROVIDER=ecommpay
record: $(STAMP)
	@test -n "$(PROVIDER)" || (echo "usage: make record PROVIDER=ecommpay|omise" && exit 2)
	PAYMUX_RECORDING=1 $(BIN)/python -m pytest tests/$(PROVIDER) -m vcr --record-mode=rewrite -p no:randomly

clean:
	rm -rf $(VENV) $(CORE_VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
