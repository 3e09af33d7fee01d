# Two entry points, both safe on a fresh machine (they set up what they need):
#   make run    - virtual environment + the live console (ARGS="..." passes options)
#   make test   - virtual environment + Debian test daemons + ruff + mypy + the whole test suite
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# Debian packages the tests start on loopback (only installed when a command is missing).
DEBIAN_TEST_PACKAGES := bgpdump nsd unbound tmux nats-server
ARGS ?=

.PHONY: run test lint setup system-deps bench clean

run: setup
	$(PY) -m tui $(ARGS)

test: setup system-deps lint
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# ruff and mypy, configured in pyproject.toml; make test runs them before the tests.
lint: setup
	$(PY) -m ruff check tui tests bench
	$(PY) -m mypy

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

system-deps:
	@missing=""; \
	for cmd in bgpdump nsd unbound tmux nats-server; do \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$cmd"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for the tests:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(DEBIAN_TEST_PACKAGES); \
	fi

bench: setup system-deps
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
