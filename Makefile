# Yiyang — the two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export YIYANG_DATABASE_URL ?= sqlite:///$(CURDIR)/var/yiyang.db

# Every machine installs the versions the tests ran: the lock, with hashes (see `make lock`).
LOCK   := requirements/dev.lock

.PHONY: run test lint bench venv clean messages lock

# A changed lock (or pyproject.toml) rebuilds the venv from scratch, so nothing stays installed
# that the lock no longer lists.
$(BIN)/yiyang: pyproject.toml $(LOCK)
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	@# fails when pyproject.toml asks for something the lock lacks: run `make lock`
	$(BIN)/pip check
	@# dc09_spt (an independent DC-09 alarm dialler, test client) pins an old pycryptodome it
	@# does not need; install it without its dependencies
	$(BIN)/pip install -q --no-deps 'dc09_spt==0.0.4'
	@touch $@

venv: $(BIN)/yiyang

## re-lock after changing dependencies in pyproject.toml: every other pin is kept (add
## UV_ARGS=--upgrade to move them all); the lock resolves from PyPI alone, for any platform
UV_VENV := .venv-uv
lock:
	test -x $(UV_VENV)/bin/uv || { $(PYTHON) -m venv $(UV_VENV) && $(UV_VENV)/bin/pip install -q 'uv==0.13.9'; }
	$(UV_VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --generate-hashes \
	  --index-url https://pypi.org/simple --custom-compile-command 'make lock' $(UV_ARGS) -o $(LOCK)

## make run: venv, install, migrate SQLite, load demo data, serve on http://127.0.0.1:8000
## with the device simulator feeding it
run: venv
	@mkdir -p var
	$(BIN)/yiyang migrate
	$(BIN)/yiyang demo-data --elders 2000 --seed 1 --history-days 56 --if-empty
	@# the simulator feeds the platform over HTTP (works without an MQTT broker) and stops with it
	$(BIN)/yiyang simulate --elders 300 --rate 3 --transport http --url http://127.0.0.1:8000 & \
	  SIM=$$!; trap "kill $$SIM 2>/dev/null" EXIT INT TERM; \
	  YIYANG_DEV_OUTBOX=true $(BIN)/yiyang serve --host 127.0.0.1 --port 8000

## make test: venv, install, run every test
test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: venv
	$(BIN)/python bench/registry_bench.py

## after changing UI strings: re-extract the template and merge it into the .po catalogues, the
## translations' source (docs/i18n.md); a second run changes nothing
LOCALES := src/yiyang/locale
POT     := $(LOCALES)/messages.pot
messages: venv
	$(BIN)/pybabel extract -F babel.cfg -k N_ -c TRANSLATORS: --add-location=file --sort-output \
	  --no-wrap --project=yiyang -o $(POT).new src/yiyang
	@# keep the old template when only its POT-Creation-Date moved
	@if diff -q -I '^"POT-Creation-Date: ' $(POT) $(POT).new >/dev/null 2>&1; \
	  then rm $(POT).new; else mv $(POT).new $(POT); fi
	@# changed ids come back as fuzzy suggestions; tests/core/test_i18n.py fails until reviewed
	$(BIN)/pybabel update -i $(POT) -d $(LOCALES) --no-wrap --ignore-obsolete --previous

clean:
	rm -rf $(VENV) $(UV_VENV) var
