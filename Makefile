# Every target uses the virtualenv in .venv (created on first use).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
SANDBOX_PORT ?= 8900
# The web server and the sandbox find each other through these (see .env.example). Only the
# targets that run the product get them, so `make test` keeps the settings' own defaults.
SANDBOX_URL ?= http://$(HOST):$(SANDBOX_PORT)
PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
RUN_ENV := SANDBOX_URL=$(SANDBOX_URL) PUBLIC_BASE_URL=$(PUBLIC_BASE_URL)

.PHONY: run test test-slow test-services lint format migrate demo demo-scenario sandbox worker scheduler bench soak clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## The whole product on embedded defaults: SQLite, in-process cache, broker and worker, the sandbox, demo data.
run: venv
	$(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py seed_demo
	$(RUN_ENV) $(PY) manage.py run_embedded --host $(HOST) --port $(PORT) --sandbox-port $(SANDBOX_PORT)

## The test suite on whatever DATABASE_URL / REDIS_URL say (embedded defaults when unset), on two
## processes (pytest-xdist). On embedded defaults every worker has its own SQLite file, cache and broker;
## on the services each has its own test database and Redis database (tests/xdist_workers.py), and takes
## whole files, so an e2e module's stack starts once.
XDIST_SERVICES = --dist loadfile -p tests.xdist_workers
test: venv
	$(PY) -m pytest -n 2 $(if $(DATABASE_URL),$(XDIST_SERVICES))

## The tests that take minutes (real 60 s rate-limit windows), on the local Postgres and Redis.
test-slow: venv
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} $(PY) -m pytest -m slow

## The same suite against the local Postgres and Redis services.
test-services: venv
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} $(PY) -m pytest -n 2 $(XDIST_SERVICES)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: venv
	$(PY) manage.py migrate --noinput

## Book as a guest on one sandbox platform and show what every other platform now holds.
## PLATFORM=<slug> picks where the guest books (default: the command's own, airbnb).
demo-scenario: venv
	$(RUN_ENV) $(PY) manage.py demo_scenario $(if $(PLATFORM),--platform $(PLATFORM))

sandbox: venv
	$(PY) -m sandbox --port $(SANDBOX_PORT) --callback-base http://$(HOST):$(PORT)

worker: venv
	$(PY) manage.py rundramatiq --processes 1 --threads 4

scheduler: venv
	$(PY) manage.py run_scheduler

bench: venv
	$(PY) bench/limiter.py
	$(PY) bench/sync.py

## Convergence soak (bench/soak.py): embedded by default, the services stack when DATABASE_URL and REDIS_URL
## are set. Every seed must end with no drift; all seeds run, and the target fails if any of them failed.
SEEDS ?= 1 2 3
OPERATIONS ?= 400
soak: venv
	@failed=""; for seed in $(SEEDS); do \
		$(PY) bench/soak.py --seed $$seed --operations $(OPERATIONS) || failed="$$failed $$seed"; \
	done; \
	if [ -n "$$failed" ]; then echo "soak failed for seed(s):$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) var staticfiles
