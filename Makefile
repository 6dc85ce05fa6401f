# Zhongtai: two commands from a fresh clone. `make demo` then `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat constraints.txt pyproject.toml Makefile | cksum | cut -d' ' -f1)
export ZHONGTAI_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(ZHONGTAI_DATA_DIR)/dagster_home

# Demo scale (override: make demo CUSTOMERS=5000 DAYS=200)
SEED      ?= 7
CUSTOMERS ?= 20000
DAYS      ?= 400

.PHONY: help install demo generate materialize dev test lint format clean bench

help:
	@echo "make demo   - set up .venv, generate the demo brand, materialise the whole graph"
	@echo "make test   - lint, then the whole test suite"
	@echo "make dev    - Dagster UI on http://127.0.0.1:3000"
	@echo "make lint   - ruff"
	@echo "make bench  - scale benchmark (bench/scale.py; figures in bench/README.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv (from PyPI) installs the pinned stack in seconds; plain pip is the fallback. Then the
# bytecode of every installed module is written once (uv does not, pip does; compileall skips
# what is up to date): without it, and with PYTHONDONTWRITEBYTECODE set (containers, CI),
# every process and every `dbt build` compiles dagster, dbt and scikit-learn from source
# again (bench/README.md, "Fixed costs of a new day").
$(STAMP): $(BIN)/python
	@rm -f $(VENV)/.installed-*
	@if $(BIN)/python -m pip install -q uv 2>/dev/null; then \
	  $(BIN)/uv pip install -q -p $(BIN)/python -r constraints.txt -e ".[dev,eval,spark]" ; \
	else \
	  $(BIN)/python -m pip install -q -r constraints.txt -e ".[dev,eval,spark]" ; \
	fi
	@$(BIN)/python -m compileall -q -j 0 $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') > /dev/null \
	  || echo "some modules were not compiled to bytecode (they compile at import)"
	@touch $@

install: $(STAMP)

generate: install
	$(BIN)/zhongtai demo generate --seed $(SEED) --customers $(CUSTOMERS) --days $(DAYS)

materialize: install
	$(BIN)/zhongtai materialize

demo: generate materialize
	@echo ""
	@echo "Outputs:"
	@echo "  landing files  $(ZHONGTAI_DATA_DIR)/landing/<channel>/"
	@echo "  lake           $(ZHONGTAI_DATA_DIR)/lake/raw/<entity>/*.parquet  (rejects: lake/quarantine/)"
	@echo "  warehouse      $(ZHONGTAI_DATA_DIR)/warehouse.duckdb  (schemas staging, intermediate, marts, identity)"
	@echo "  try:           $(BIN)/python -c \"import duckdb; print(duckdb.connect('$(ZHONGTAI_DATA_DIR)/warehouse.duckdb', read_only=True).sql('select channel, sum(units_sold), sum(net_sales) from marts.fct_daily_sales group by 1'))\""
	@echo "Open the UI:     make dev   (then http://127.0.0.1:3000)"

dev: install
	@mkdir -p $(DAGSTER_HOME) && test -s $(DAGSTER_HOME)/dagster.yaml || cp orchestration/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The suite on every core (pytest-xdist; a test module stays on one worker, so its module
# fixtures are built once); the e2e build runs beside the workers in a process of its own
# (tests/conftest.py). The modules go to the workers in the order tests/conftest.py sets (long
# ones first, those that wait for the e2e build after the rest), not xdist's default (most
# tests first). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
test: lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Benchmarks: on demand, never in make test (figures in bench/README.md). The scale bench:
# the demo brand at each scale, the whole graph materialised, time and peak RSS per stage
# beside each stage's peer (make bench BENCH_CUSTOMERS=5000,10000,20000 BENCH_DAYS=400).
BENCH_CUSTOMERS ?= 2500,5000,10000
BENCH_DAYS      ?= 400
BENCH_OUT       ?= /tmp/zt-bench-scale
bench: install
	$(BIN)/python bench/scale.py --customers $(BENCH_CUSTOMERS) --days $(BENCH_DAYS) --out $(BENCH_OUT)

clean:
	rm -rf data/landing data/truth data/lake data/warehouse.duckdb* data/exports data/dagster_home dbt_project/target
