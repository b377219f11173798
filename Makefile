# leadflow — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(PYTHON) -m uv
MEMBERS := $(sort $(dir $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)))
STAMP := $(VENV)/.installed

.PHONY: help install lock run test test-fast browser-deps lint typecheck schemas asyncapi asyncapi-check schema-compat bench bench-single bench-intake bench-enrich bench-score bench-ops bench-crm-changes bench-crm-sync bench-sla bench-route bench-transport bench-processes model-report bench-model salesforce-metadata bench-emulator bench-import tail clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml $(addsuffix pyproject.toml,$(MEMBERS))
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@test -x $(PY) || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	@# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set (this machine, the images), a process
	@# would otherwise compile every module it imports at each start (a service's imports 3.6 s -> 1.5 s).
	$(UV) pip sync --quiet --compile-bytecode --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps $(addprefix -e ./,$(MEMBERS))
	$(PY) -m compileall -q -j 0 $(addsuffix src,$(MEMBERS)) >/dev/null
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the locked dependencies plus every workspace member

lock: ## Recompile requirements.lock (hashed) from every member's dependencies, and each service image's own lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(PYTHON) deploy/scripts/lock_inputs.py
	$(UV) pip compile --quiet --generate-hashes --python-version 3.11 --no-header \
		deploy/requirements.in -o requirements.lock
	$(PYTHON) deploy/docker/service_image.py inputs >/dev/null
	@for in in deploy/docker/locks/*.in; do \
	  $(UV) pip compile --quiet --generate-hashes --python-version 3.11 --no-header \
	    --constraint requirements.lock "$$in" -o "$${in%.in}.lock" || exit 1; done

run: $(STAMP) ## Start broker, emulator, every service, demo leads and dashboard (Ctrl-C stops all; EXCLUDE=demo-generator, ONLY=route,score; KEEP_STATE=1)
	@# The embedded broker keeps its topics in memory: databases left by an earlier run would describe leads the
	@# new broker never saw (ops counting them, intake dropping the demo's event ids as replays), so every run
	@# starts from fresh state unless KEEP_STATE=1. Trained models (var/models) are kept.
	$(if $(KEEP_STATE),,rm -f var/*.db var/*.db-wal var/*.db-shm .run/sfemu.db .run/sfemu.db-wal .run/sfemu.db-shm)
	$(PY) -m leadflow_platform.supervisor deploy/local/run.yaml $(if $(ONLY),--only "$(ONLY)") $(if $(EXCLUDE),--exclude "$(EXCLUDE)")

browser-deps: ## Debian's chromium (ops browser tests) and kcat (publishing example), with apt-get when root
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v kcat >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium kcat >/dev/null \
	    || echo "apt-get failed: the browser and kcat example tests will be skipped"; \
	  else echo "browser/kcat tests need: sudo apt-get install -y chromium kcat"; fi; fi

test: $(STAMP) browser-deps ## Run the whole test suite (unit, component, integration, e2e; SQLite and PostgreSQL)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## Unit and component tests only
	$(PY) -m pytest -m "unit or component" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and ruff format --check over the whole tree
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Every package of every member (strict on the shared libs, see [tool.mypy] in pyproject.toml).
PACKAGES := $(foreach init,$(sort $(wildcard libs/*/src/*/__init__.py services/*/src/*/__init__.py)),-p $(notdir $(patsubst %/,%,$(dir $(init)))))

typecheck: $(STAMP) ## mypy over every member's packages
	$(PY) -m mypy $(PACKAGES)

schemas: $(STAMP) ## Export the JSON Schema of every event to deploy/schemas/
	$(PY) -m leadflow_contracts.export deploy/schemas

asyncapi: $(STAMP) ## Regenerate deploy/asyncapi (one AsyncAPI document per service + public.yaml) from the FastStream apps
	$(PY) deploy/asyncapi/generate.py

asyncapi-check: $(STAMP) ## Fail if the committed AsyncAPI documents are stale (the test suite checks it too)
	$(PY) deploy/asyncapi/generate.py --check

schema-compat: $(STAMP) ## Fail on a breaking change against the last released schemas (deploy/schemas/released/v1)
	$(PY) -m leadflow_contracts.compat deploy/schemas/released/v1 deploy/schemas

bench: $(STAMP) ## Issue 13's figures, services as separate processes (bench-processes, ARGS), then the same pipeline in one process for comparison (bench-single, SINGLE_ARGS)
	$(PY) tests/bench/bench_processes.py $(ARGS)
	$(PY) tests/bench/bench_pipeline.py $(SINGLE_ARGS)

bench-single: $(STAMP) ## End to end with the five pipeline services in ONE process: raw hop, burst leads/s to CrmSynced, API calls per 1,000, latency at 200 leads/s
	$(PY) tests/bench/bench_pipeline.py $(ARGS)

bench-processes: $(STAMP) ## Pipeline with each service as its own process (as make run): leads/s vs raw hop, CPU µs/lead per service, latency budget per hop
	$(PY) tests/bench/bench_processes.py $(ARGS)

bench-transport: $(STAMP) ## Kafka clients on the embedded broker: aiokafka vs confluent-kafka hop rate, CPU/msg, produce→consume latency
	$(PY) tests/bench/bench_transport.py $(ARGS)

bench-intake: $(STAMP) ## Intake throughput over the real embedded broker (prints leads/s)
	$(PY) services/intake/bench/bench_intake.py

bench-enrich: $(STAMP) ## Enrich: pure matching/enrichment rate and the service over the embedded broker (leads/s)
	$(PY) services/enrich/bench/bench_enrich.py

bench-score: $(STAMP) ## Score: pure rule-scoring rate and the service over the embedded broker (leads/s)
	$(PY) services/score/bench/bench_score.py

bench-ops: $(STAMP) ## Ops console at size (100k open leads, 1M SLA events): page/API p50/p99
	$(PY) services/ops/bench/bench_ops.py

bench-crm-changes: $(STAMP) ## crm-changes: 50k rep changes from the emulator to crm.changes (changes/s)
	$(PY) services/crm-changes/bench/bench_crm_changes.py

bench-crm-sync: $(STAMP) ## crm-sync: leads/s into the emulator and Salesforce API calls per 1,000 leads (burst)
	$(PY) services/crm-sync/bench/bench_crm_sync.py --leads 10000

salesforce-metadata: $(STAMP) ## Regenerate deploy/salesforce (SFDX) from the emulator schema
	$(PY) deploy/salesforce/generate.py

bench-sla: $(STAMP) ## SLA breach-detection lag with 1,000,000 open timers (p50/p95/p99, timers, memory; ~5 min)
	$(PY) services/sla-monitor/bench/bench_sla.py

XEDU_CSV ?= ../shared/data/x-education-leads.csv
model-report: $(STAMP) ## Train on the shared X Education export via the emulator (CSV → Leads → Bulk 2.0), write deploy/model/report/, publish to var/models
	$(VENV)/bin/leadflow scoring demo-report --from-csv $(XEDU_CSV) --mapping deploy/model/x-education-mapping.yaml --artifacts var/models --report-dir deploy/model/report --publish

bench-model: $(STAMP) ## Model scoring cost: leads/s in 1,000-lead batches, p50/p99 added latency (run model-report first)
	$(PY) libs/model/bench/bench_model.py --artifacts var/models

bench-route: $(STAMP) ## Route: decisions/s (domain) and leads/s over the real broker, with a raw-hop baseline
	$(PY) services/route/bench/bench_route.py $(ARGS)

bench-emulator: $(STAMP) ## Salesforce emulator throughput (Collections upserts/s, queries/s)
	$(PY) services/salesforce-emulator/bench/bench_emulator.py

bench-import: $(STAMP) ## Import a generated 100,000-row CSV over the embedded broker (rows/s; add ARGS=--with-intake)
	$(PY) libs/importer/bench/bench_import.py $(ARGS)

tail: $(STAMP) ## Print messages on a topic: make tail TOPIC=leads.accepted [BOOTSTRAP=127.0.0.1:19092]
	$(PY) -m leadflow_platform.tail $(TOPIC) $(if $(BOOTSTRAP),--bootstrap $(BOOTSTRAP),)

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .run
