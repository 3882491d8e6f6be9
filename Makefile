# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo
PORT   ?= 8000
UI_PORT ?= 8501
DEMO_DB = sqlite:///$(DEMO)/leadscore.db
# rich draws tables to the terminal width; give the leaderboard room when piped
export COLUMNS ?= 160

.PHONY: demo test install dev lint format bench bench-suite soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# xgboost-cpu and xgboost install the same package: a venv made before the switch to the
# CPU-only build drops the GPU one (and its NVIDIA libraries) first
DROP_GPU_XGBOOST = $(BIN)/python -c "import importlib.metadata as m, sys; m.version('xgboost-cpu')" \
	2>/dev/null || $(BIN)/python -m pip uninstall --quiet --yes xgboost nvidia-nccl-cu12 2>/dev/null || true

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@[ "$$(uname -s)" = Darwin ] || $(DROP_GPU_XGBOOST)
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	@[ "$$(uname -s)" = Darwin ] || $(DROP_GPU_XGBOOST)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

## demo: install; demo web events + CRM table → lead features → audit → compare + train (MLflow) →
## report → insights → score new leads with the champion → serve the scoring API and the dashboard;
## then 90 days simulated up to today (demo-live): leads arrive and are scored daily, the team works
## the contacts plus exploration, outcomes come back through the API, the traffic mix drifts halfway,
## retrain --from-store decides two thirds in; every monitoring view then has content
demo: export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR = false
# the demo's experiments and registry land in demo/ with everything else it writes
demo: export LEADSCORE_MLFLOW_URI = sqlite:///$(abspath $(DEMO))/mlflow.db
demo: install
	@# a fresh store each run: the simulated 90 days end today, and a store that holds them
	@# already would be refused by demo-live
	rm -f $(DEMO)/leadscore.db $(DEMO)/leadscore.db-wal $(DEMO)/leadscore.db-shm
	$(BIN)/leadscore demo-data --events --out $(DEMO) --rows 5000 --new-rows 1000
	$(BIN)/leadscore features $(DEMO)/events.jsonl --labels $(DEMO)/outcomes.csv \
		--leads $(DEMO)/crm.csv --out $(DEMO)/leads.parquet
	$(BIN)/leadscore audit $(DEMO)/leads.parquet --time first_seen \
		--json $(DEMO)/audit.json --html $(DEMO)/audit.html
	$(BIN)/leadscore train $(DEMO)/leads.parquet --time first_seen --out $(DEMO)/model \
		--leaderboard $(DEMO)/leaderboard.csv --dictionary $(DEMO)/dictionary.csv
	$(BIN)/leadscore report $(DEMO)/model --out $(DEMO)/report
	$(BIN)/leadscore insights $(DEMO)/model $(DEMO)/leads.parquet --out $(DEMO)/insights
	$(BIN)/leadscore score $(DEMO)/new_events.jsonl --events --leads $(DEMO)/new_crm.csv \
		--out $(DEMO)/scores.csv --database $(DEMO_DB) --top 15 --show first_touch_source --show device_type \
		--show returned_same_day --show demo_request_count --show seniority --show company_size
	@echo "Evaluation report: $(DEMO)/report/report.html"
	@echo "Insights (what converts, the ideal customer): $(DEMO)/insights/insights.html"
	@echo "Experiments and models: LEADSCORE_MLFLOW_URI=$$LEADSCORE_MLFLOW_URI $(BIN)/leadscore mlflow-ui  (then open http://127.0.0.1:5000)"
	@$(BIN)/leadscore keys create demo-$$(date +%s) --scope admin --database $(DEMO_DB) \
		| grep '^ls_' > $(DEMO)/api-key.txt
	@# a fresh random password for the demo user on every run; never a built-in one
	@( $(BIN)/leadscore users add demo --role admin --database $(DEMO_DB) 2>/dev/null \
		|| $(BIN)/leadscore users set-password demo --database $(DEMO_DB) ) | tail -1 \
		> $(DEMO)/dashboard-password.txt
	@# the API and the dashboard start in the background; 90 days are then simulated against the
	@# store (demo-live), the contacted leads' outcomes sent through the API; a failed step
	@# leaves the champion serving
	@echo
	@$(BIN)/leadscore ui --database $(DEMO_DB) --dir $(DEMO)/dashboard --data $(DEMO)/leads.parquet \
		--port $(UI_PORT) > $(DEMO)/dashboard.log 2>&1 & UI=$$!; \
		$(BIN)/leadscore serve --database $(DEMO_DB) --port $(PORT) > $(DEMO)/api.log 2>&1 & API=$$!; \
		trap "kill $$UI $$API 2>/dev/null" EXIT INT TERM; \
		$(BIN)/leadscore demo-live --days 90 --database $(DEMO_DB) --api http://127.0.0.1:$(PORT) \
			--key-file $(DEMO)/api-key.txt \
		|| echo "the simulation did not complete (above); the champion keeps serving"; \
		echo; \
		echo "Scoring API: http://127.0.0.1:$(PORT)  (docs: http://127.0.0.1:$(PORT)/docs; log: $(DEMO)/api.log)"; \
		echo "  API key (admin): $$(cat $(DEMO)/api-key.txt)  — also in $(DEMO)/api-key.txt"; \
		echo "  try: curl -s 'http://127.0.0.1:$(PORT)/v1/leads?segment=hot' -H \"X-API-Key: $$(cat $(DEMO)/api-key.txt)\""; \
		echo "Dashboard:   http://127.0.0.1:$(UI_PORT)  (user demo, password $$(cat $(DEMO)/dashboard-password.txt))"; \
		echo "Monitoring:  $(BIN)/leadscore monitor report --database $(DEMO_DB)  (or the dashboard's Monitoring page)"; \
		echo "Ctrl-C stops both."; \
		wait $$API

## test: install the dev extras, lint, run the whole suite
test: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/python -m pytest -n auto --dist loadfile

lint: dev
	$(BIN)/ruff check src tests bench

format: dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## bench: the X Education benchmark (needs ../shared/datasets)
bench: dev
	$(BIN)/python bench/xeducation.py

## bench-suite: leadscore's defaults vs LightGBM defaults on public datasets (bench/suite.py);
## ISLP is installed for its data files only (never imported: it needs torch);
## options: make bench-suite SUITE_ARGS="--flaml --only OJ,Tayko"
bench-suite: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m pip install --quiet --no-deps "ISLP>=0.4"
	$(BIN)/python bench/suite.py $(SUITE_ARGS)

## soak: 10 minutes of mixed traffic at 200 requests/s against one worker (bench/soak.py);
## options: make soak SOAK_ARGS="--minutes 1"
soak: dev
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

## docs: build the documentation site (mkdocs.yml, docs/) into build/site, failing on any
## warning; preview it with .venv/bin/mkdocs serve -a 127.0.0.1:8001
.PHONY: docs
docs: dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache mlflow.db mlartifacts
