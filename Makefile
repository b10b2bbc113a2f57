# Developer entry points (GNU make). `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV := .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip --disable-pip-version-check
# Debian 12's python3 is 3.11; an explicit python3.11 wins when there is one.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)

FMNIST_FILES := train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz
DEBIAN_DATA_DIR := /usr/share/datasets/fashion-mnist
CHROMIUM := /usr/bin/chromium
# pytest-xdist processes for `make test` and `make test-quick`: one per core here (the suite is CPU-bound).
TEST_WORKERS ?= 2
# Whole test files go to one process (a browser module shares its server; the Ray tests share one head).
# --max-worker-restart=0: a crashed process ends the run at once with the test it died in named, instead of
# pytest-xdist 3.8's loadfile scheduler replacing it and then waiting forever (pytest-xdist issues 784 and 1378).
XDIST := -n $(TEST_WORKERS) --dist loadfile --max-worker-restart=0

# .streamlit/config.toml says headless (right for servers and tests); a person at a desktop gets a browser tab.
ifneq ($(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),)
RUN_HEADLESS ?= false
else
RUN_HEADLESS ?= true
endif

# $(call apt_install,PACKAGE) is a shell snippet: apt-get install as root or through sudo. `apt-get update`
# runs only when apt knows no install candidate (a fresh image ships empty package lists). grep -c, not -q:
# -q would quit early, apt-cache would die of SIGPIPE, and pipefail would call that "no candidate".
apt_install = \
	if [ "$$(id -u)" -eq 0 ]; then sudo_=; \
	elif command -v sudo >/dev/null 2>&1; then sudo_=sudo; \
	else echo "need root or sudo to apt-get install $(1)" >&2; exit 1; fi; \
	if [ "$$(apt-cache policy $(1) 2>/dev/null | grep -c 'Candidate: [^(]')" -eq 0 ]; then \
	  echo "apt-get update (apt has no candidate for $(1))"; \
	  $$sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	fi; \
	echo "apt-get install -y $(1)"; \
	$$sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1)

# Keras' own downloader, the last resort of `make data` (needs internet).
KERAS_FETCH := import os, keras; keras.datasets.fashion_mnist.load_data(); \
	home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras"); \
	print("data: Keras cached the files in", os.path.join(home, "datasets", "fashion-mnist"))

# Referenced indirectly on purpose: a literal $(MAKE) would make `make -n data` execute the whole recipe.
make_venv = $(MAKE) --no-print-directory venv

.PHONY: help venv dev-venv data run dev system-test-deps test test-quick lint bench bench-full clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-18s %s\n", $$1, $$2}'

venv: $(VENV)/.req-stamp ## create .venv if absent and install requirements.txt

$(VPY):
	@test -n "$(PYTHON)" || { echo "venv: no python3 on PATH" >&2; exit 1; }
	@echo "venv: creating $(VENV) with $(PYTHON) ($$($(PYTHON) --version 2>&1))"
	@if ! $(PYTHON) -m venv $(VENV); then \
	  rm -rf $(VENV); \
	  echo "venv: '$(PYTHON) -m venv' failed; Debian ships ensurepip in python3-venv, installing that"; \
	  $(call apt_install,python3-venv); \
	  $(PYTHON) -m venv $(VENV); \
	fi

$(VENV)/.req-stamp: requirements.txt | $(VPY)
	$(PIP) install -r requirements.txt
	@touch $@

dev-venv: $(VENV)/.dev-req-stamp ## venv plus requirements-dev.txt (pytest, ruff, playwright) and requirements-ray.txt

$(VENV)/.dev-req-stamp: requirements-dev.txt requirements-ray.txt $(VENV)/.req-stamp
	$(PIP) install -r requirements-dev.txt -r requirements-ray.txt
	@touch $@

data: ## make sure the four Fashion-MNIST .gz files are on this machine
	@has_all() { for f in $(FMNIST_FILES); do [ -s "$$1/$$f" ] || return 1; done; }; \
	if [ -n "$${FMNIST_DATA_DIR:-}" ]; then \
	  if has_all "$$FMNIST_DATA_DIR"; then echo "data: using FMNIST_DATA_DIR=$$FMNIST_DATA_DIR"; exit 0; fi; \
	  echo "data: FMNIST_DATA_DIR=$$FMNIST_DATA_DIR lacks some of the four files; looking elsewhere"; \
	fi; \
	if has_all $(DEBIAN_DATA_DIR); then \
	  echo "data: using $(DEBIAN_DATA_DIR) (Debian package dataset-fashion-mnist)"; exit 0; \
	fi; \
	if command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; }; then \
	  echo "data: installing Debian's dataset-fashion-mnist"; \
	  if ( $(call apt_install,dataset-fashion-mnist) ) && has_all $(DEBIAN_DATA_DIR); then \
	    echo "data: installed into $(DEBIAN_DATA_DIR)"; exit 0; \
	  fi; \
	  echo "data: apt-get did not provide the files; falling back to Keras' downloader"; \
	fi; \
	$(make_venv); \
	echo "data: downloading with keras.datasets.fashion_mnist.load_data()"; \
	TF_CPP_MIN_LOG_LEVEL=3 $(VPY) -c '$(KERAS_FETCH)' || { \
	  echo "data: no Fashion-MNIST; put the four .gz files in a folder and set FMNIST_DATA_DIR to it" >&2; exit 1; }

run: venv data ## start the dashboard (opens a browser tab when there is a desktop)
	TF_CPP_MIN_LOG_LEVEL=3 $(VENV)/bin/streamlit run app.py --server.headless $(RUN_HEADLESS)

dev: venv data ## like run, and reloads when a source file is saved (polling watcher: single files, not .venv)
	TF_CPP_MIN_LOG_LEVEL=3 $(VENV)/bin/streamlit run app.py --server.headless $(RUN_HEADLESS) \
	  --server.fileWatcherType poll --server.runOnSave true

system-test-deps: ## Debian's chromium for the browser tests (Playwright drives it; nothing is downloaded)
	@if [ -x $(CHROMIUM) ]; then echo "system-test-deps: $(CHROMIUM) present"; \
	elif command -v apt-get >/dev/null 2>&1; then $(call apt_install,chromium); \
	else echo "system-test-deps: install Chromium at $(CHROMIUM) (no apt-get here)" >&2; exit 1; fi

test: dev-venv data system-test-deps ## ruff check and format, then the whole pytest suite including the browser tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VPY) -m pytest $(XDIST)

test-quick: dev-venv data ## the inner loop: ruff, then unit and AppTest tests (no browser, no Ray cluster)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VPY) -m pytest $(XDIST) --ignore=tests/e2e --ignore=tests/pages/test_train_executors.py -m "not slow"

lint: dev-venv ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: venv data ## quick benchmark, one epoch per preset (python -m bench --quick -> bench/measured/bench-quick.json)
	TF_CPP_MIN_LOG_LEVEL=3 $(VPY) -m bench --quick

bench-full: venv data ## full benchmark, the table of docs/performance.md (python -m bench -> bench/measured/bench-full.json)
	TF_CPP_MIN_LOG_LEVEL=3 $(VPY) -m bench

clean: ## remove caches; keeps .venv, models/ and bench results
	find . \( -path ./.venv -o -path ./.git -o -path ./models \) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .cache test-results
