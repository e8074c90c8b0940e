# One command each, on a fresh machine: `make demo` runs the main job, `make test` passes the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= demo-out

.PHONY: demo test lint golden bench clean sysdeps

# Debian packages from apt-packages.txt, installed only when missing (needs root, as in CI).
sysdeps:
	@missing=""; for p in $$(grep -v '^#' apt-packages.txt); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "missing Debian packages:$$missing (run 'sudo make sysdeps')"; exit 1; fi; fi

$(STAMP): pyproject.toml apt-packages.txt | sysdeps
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(VENV)/bin/tokenfab plan examples/rail-optimized-256.yaml -o $(DEMO_OUT)/plan --force
	$(VENV)/bin/tokenfab configure $(DEMO_OUT)/plan
	$(VENV)/bin/tokenfab validate $(DEMO_OUT)/plan
	$(VENV)/bin/tokenfab factory run examples/factory-demo.yaml --fabric $(DEMO_OUT)/plan -o $(DEMO_OUT)/factory --force
	$(VENV)/bin/tokenfab operate simulate examples/operate-demo.yaml -o $(DEMO_OUT)/operate --force
	$(VENV)/bin/tokenfab operate advise $(DEMO_OUT)/operate
	$(VENV)/bin/tokenfab operate report $(DEMO_OUT)/operate
	@echo "factory report: $(DEMO_OUT)/factory/report.html"
	@echo "operate report: $(DEMO_OUT)/operate/report.html"

# The gate before the tests: lint and format (ruff, rules in pyproject.toml) and types (mypy on design, configure, sim, workload, twin).
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q -n 2 --dist loadgroup

# Rewrite tests/golden/ from today's outputs after an intended change; review `git diff tests/golden`.
golden: $(STAMP)
	$(PY) -m pytest -q tests/test_golden.py --update-golden

bench: $(STAMP)
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .hypothesis .mypy_cache .ruff_cache
