# The README's commands. `make run` serves the demo; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
ADDRESS ?= 127.0.0.1:8000
# Optional dependency groups to install: the image for production sets EXTRAS to nothing.
EXTRAS ?= dev

.PHONY: run test install lint serve migrate worker beat web bench-short e2e faults migration-proof

# DEBUG is off unless set (settings.py): the local targets run as a developer's machine.
# The production ones (migrate, web, worker, beat) take it from the environment.
run serve lint test e2e bench-short migration-proof: export DEBUG ?= true

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installs the project and its test tools into .venv (again only when pyproject.toml changes).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.$(if $(EXTRAS),[$(EXTRAS)])'
	touch $@

install: $(VENV)/.installed

# Set up everything and serve the demo time bank, with a Celery worker and beat beside it.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	@$(SERVE)

# Links in emails (the worker writes them too, with no request to read the address from) point
# at the address served here, unless SITE_URL is set. Ctrl-C reaches the whole process group:
# the worker shuts itself down and the shell waits for it, then ends cleanly, so a stop shows
# no error (``run`` runs these lines itself: a sub-make would report the Ctrl-C as one); a TERM
# (kill) is passed on to the worker.
SERVE = export SITE_URL="$${SITE_URL:-http://$(ADDRESS)}"; \
	$(BIN)/celery -A timebank worker --beat --concurrency=1 --loglevel=INFO & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
	trap 'wait $$worker; trap - EXIT; exit 0' INT; \
	trap 'kill $$worker 2>/dev/null; wait $$worker; trap - EXIT; exit 0' TERM; \
	$(BIN)/python manage.py runserver $(ADDRESS)

serve:
	@$(SERVE)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run

# The whole test suite on the database and broker named by DATABASE_URL and REDIS_URL
# (SQLite and the embedded broker when they are unset).
# On SQLite the main pass runs in TEST_WORKERS processes (pytest-xdist, each test class whole
# in one; "auto": one per core): each has its own in-memory database and cache keys
# (tests/conftest.py). With DATABASE_URL set it runs in this one process (TEST_WORKERS=0):
# there the TransactionTestCases (real threads, real Celery workers) empty the tables after
# them, rows the migrations seeded (categories) included, and under xdist a worker runs
# TestCases after them; serially pytest-django runs every TestCase first.
# The schemathesis fuzz of the API runs as its own step, so its result stands out.
TEST_WORKERS ?= $(if $(DATABASE_URL),0,auto)
test: lint
	$(BIN)/python manage.py check
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope -m "not fuzz and not e2e and not faults"
	@echo "=== schemathesis: every API operation, every role, every check, against the OpenAPI schema ==="
	$(BIN)/pytest -m fuzz -q tests/test_api_fuzz.py

# Careful API clients against gunicorn on a throwaway PostgreSQL cluster of its own (initdb and
# pg_ctl in a temporary folder, on a free port) while web workers are killed mid-request and the
# database crashes and recovers; a mail server that cannot be reached. About two minutes.
faults: install
	$(BIN)/pytest -m faults -p no:cacheprovider tests/faults

# The browser suite (e2e/): Debian's Chromium driven by Playwright, axe-core on every page,
# against the real server on a free loopback port and a fresh PostgreSQL database
# (E2E_ADMIN_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres, creates timebank_e2e).
# Chromium comes from apt (never `playwright install`); axe-core from npm into e2e/node_modules.
# Screenshots at 360 and 1280 px wide land in e2e-artifacts/screenshots/; the commissioner's
# printed pack and each of its pages as a PNG (pdftoppm, from Debian's poppler-utils) in
# e2e-artifacts/pdf/; the page loads and form fields of each core task in
# e2e-artifacts/task-counts.json (bench/task_counts.py).
e2e: install
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "Installing Debian's chromium"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi
	@if ! command -v pdftoppm >/dev/null; then \
	  echo "Installing Debian's poppler-utils (pdftoppm)"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils; \
	fi
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,e2e]'
	npm ci --prefix e2e --no-audit --no-fund --loglevel=error
	$(BIN)/pytest e2e -m e2e -p no:cacheprovider
	@echo "Screenshots: $(CURDIR)/e2e-artifacts/screenshots; the printed pack's pages: $(CURDIR)/e2e-artifacts/pdf"

# Issue 21's proof: a database built by the code before the app split, with the demo data,
# migrates forward with every row, trigger, audit event and admin log entry intact and
# ledger_verify clean (bench/migration_proof.py). On SQLite always; on PostgreSQL as well when
# DATABASE_URL names one (a scratch database <name>_migration_proof, dropped afterwards).
migration-proof: install
	env -u DATABASE_URL $(BIN)/python bench/migration_proof.py
	@if [ -n "$$DATABASE_URL" ]; then $(BIN)/python bench/migration_proof.py; fi

# The benchmarks' short modes: correctness only (ledger invariants and duplicates; the
# commissioner report equal to hand-written SQL; a bank imported whole and sound), never speed.
# django-hordak is a comparison baseline in the bench extra, never a runtime dependency.
bench-short: install
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python bench/ledger_bench.py --short
	$(BIN)/python bench/commissioner_report.py --short
	$(BIN)/python bench/import_bench.py --short

# Production processes (docker-compose.yml runs these).
migrate:
	$(BIN)/python manage.py migrate --noinput
web:
	$(BIN)/gunicorn timebank.wsgi --bind 0.0.0.0:8000 --workers 3 --access-logfile -
worker:
	$(BIN)/celery -A timebank worker --loglevel=INFO
beat:
	$(BIN)/celery -A timebank beat --loglevel=INFO
