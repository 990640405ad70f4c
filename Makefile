# Two commands for a fresh machine with Python 3.11 and make:
#   make demo   creates .venv (with the `vpp` command) and runs one day-ahead cycle of the sample park
#   make test   creates .venv and runs the test suite
# `make test` also builds .venv-ven (Python 3.12 + openadr3-client, for the OpenADR interop test)
# when a Python 3.12 is found; without one it prints a note and that test skips.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out/demo
# openadr3-client needs Python >= 3.12; it lives in its own venv, used only by the interop test.
PYTHON312 ?= python3.12
VEN_VENV  := .venv-ven
VEN_STAMP := $(VEN_VENV)/.installed
# The web console's browser files (htmx, ECharts, Swagger UI, ReDoc), pinned in
# console-assets/package-lock.json and copied into the package: nothing comes from a CDN at run time.
VENDOR_DIR   := vpp/console/static/vendor
VENDOR_STAMP := $(VENDOR_DIR)/.stamp
# Browser tests (Playwright for Python) drive Debian's chromium, never a downloaded browser.
CHROMIUM      ?= /usr/bin/chromium
BROWSER_STAMP := $(VENV)/.browser

.PHONY: demo test lint serve clean ven-venv console-assets browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Finds a working Python 3.12 ($(PYTHON312), else a pyenv-installed 3.12.x); never fails the build.
$(VEN_STAMP):
	@py=""; \
	for c in $(PYTHON312) $$(ls -d "$$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 2>/dev/null); do \
	  if "$$c" -c 'import sys; assert sys.version_info[:2] >= (3, 12)' >/dev/null 2>&1; then py="$$c"; break; fi; \
	done; \
	if [ -z "$$py" ]; then \
	  echo "note: no Python 3.12 found; not building $(VEN_VENV) (the OpenADR interop test will skip)"; \
	elif "$$py" -m venv $(VEN_VENV) && $(VEN_VENV)/bin/python -m pip install --quiet 'openadr3-client>=2.4,<3'; then \
	  touch $@; \
	else \
	  echo "note: could not install openadr3-client into $(VEN_VENV); the OpenADR interop test will skip"; \
	fi

ven-venv: $(VEN_STAMP)

# Reruns only when the lock file (or the list of copied files) changes; needs Node.js with npm.
$(VENDOR_STAMP): console-assets/package-lock.json console-assets/vendor.sh
	@command -v npm >/dev/null 2>&1 || { echo "error: npm not found: install Node.js 18+ with npm (Debian: apt-get install nodejs npm) to vendor the console's browser files"; exit 1; }
	cd console-assets && npm ci --ignore-scripts --no-audit --no-fund
	rm -rf $(VENDOR_DIR)
	sh console-assets/vendor.sh $(VENDOR_DIR)
	touch $@

console-assets: $(VENDOR_STAMP)

# Debian's chromium and a CJK font for the browser tests (as root, or through sudo); a machine
# where neither works gets a note, and the browser tests then fail saying what is missing.
$(BROWSER_STAMP):
	@if [ -x $(CHROMIUM) ] && fc-list 2>/dev/null | grep -qi 'wenquanyi'; then \
	  mkdir -p $(VENV) && touch $@; \
	else \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else sudo="none"; fi; \
	  if [ "$$sudo" = none ]; then \
	    echo "note: $(CHROMIUM) or the CJK font is missing and this user cannot install Debian packages; as root run: apt-get install -y --no-install-recommends chromium fonts-wqy-microhei"; \
	  elif $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-wqy-microhei; then \
	    mkdir -p $(VENV) && touch $@; \
	  else \
	    echo "note: could not install chromium and fonts-wqy-microhei from Debian's packages; the browser tests will fail"; \
	  fi; \
	fi

browser: $(BROWSER_STAMP)

demo: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/vpp demo --out $(OUT)

# One pytest worker per core; a test file stays on one worker (its module fixtures start servers).
test: $(STAMP) $(VENDOR_STAMP) $(BROWSER_STAMP) ven-venv
	$(BIN)/ruff check .
	$(BIN)/pytest -n auto --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy vpp/domain forecasting bidding

serve: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/vpp serve

clean:
	rm -rf $(VENV) $(VEN_VENV) out .pytest_cache .mypy_cache .ruff_cache parkvpp.sqlite \
	  $(VENDOR_DIR) console-assets/node_modules test-results
