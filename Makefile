# procmix front door. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data
DEV    ?= ../shared/dev
OUT    ?= out/demo
INPUT  ?= $(DATA)
WORKERS ?= 2
EXECUTOR ?= local
SPEC   ?= mixtures/examples/demo.yaml
LEVELS ?= 2,3,4,6
EVALSETS ?= ../shared/evalsets
DECONT_INDEX ?= out/decont-index
SWEEP  ?= out/sweep-demo
# OUT defaults to the corpus folder for prepare; mix and sweep write elsewhere unless given OUT.
MIX_OUT   := $(if $(filter command line,$(origin OUT)),$(OUT),out/mix-demo)
SWEEP_OUT := $(if $(filter command line,$(origin OUT)),$(OUT),out/sweep-demo)
CORPUS_ARG := $(if $(CORPUS),--corpus $(CORPUS))

TEACHER_VENV := .venv-teacher
TABLE_VENV := .venv-wordllama

.PHONY: setup demo decont-index test test-fast docs-check prepare stats query mix sweep report report-check embedding bench classifiers word-vectors word-table lint clean help

help:
	@echo "make setup    create $(VENV) with procmix installed ($(BIN)/procmix)"
	@echo "make demo     prepare $(DATA) into $(OUT) and print its summary"
	@echo "make decont-index  index the evaluation sets in $(EVALSETS) -> $(DECONT_INDEX)"
	@echo "make test     ruff, then the whole test suite but the browser check (CI runs both)"
	@echo "make test-fast  the suite without the slow tests (training, LOSO, Dask, the wheel)"
	@echo "make docs-check  run every sh and python block of README.md and docs/*.md"
	@echo "make prepare  INPUT=... OUT=... [WORKERS=2 EXECUTOR=local|dask]"
	@echo "make stats    OUT=...  print the run summary and composition"
	@echo "make query    OUT=... SQL='SELECT * FROM summary'"
	@echo "make mix      SPEC=... OUT=... [CORPUS=...]  build and verify one mixture (default: demo spec -> out/mix-demo)"
	@echo "make sweep    SPEC=... OUT=... [LEVELS=2,3,4,6 CORPUS=...]  one mixture per D1 level -> out/sweep-demo"
	@echo "make report   HTML pages of the demo corpus and sweep -> out/report-corpus.html, out/report-sweep.html"
	@echo "make report-check  render report pages in headless Chromium (installs it when missing)"
	@echo "make embedding  refit the within-type diversity embedding on $(OUT) -> mixtures/models/lsa64.npz"
	@echo "make bench    benchmark prepare, tagging, mixtures, storage and within-type diversity -> bench/results/{prepare,classifiers,mixtures,storage,within}.json"
	@echo "make classifiers  train both classifiers on $(DATA) -> classifiers/models (~11 min)"
	@echo "make word-table  build the task head's word table from wordllama (own venv; ~2 min)"
	@echo "make word-vectors  distil MiniLM starting vectors for a fastText task head (own venv, torch; ~8 min)"
	@echo "make lint     ruff"

$(BIN)/procmix: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/procmix
	@echo "procmix installed: $(BIN)/procmix"

$(DECONT_INDEX)/index.json: $(BIN)/procmix $(wildcard $(EVALSETS)/*.jsonl)
	$(BIN)/procmix decont index $(EVALSETS)/*.jsonl -o $(DECONT_INDEX)

decont-index: $(DECONT_INDEX)/index.json

# --overwrite replaces a demo left by other models or settings; the same ones resume.
demo: setup decont-index
	$(BIN)/procmix prepare $(DATA) -o $(OUT) --workers $(WORKERS) --overwrite --decont $(DECONT_INDEX)
	@echo "wrote $(OUT): docs/ ledger/ quarantine/ stats.duckdb summary.json"
	@echo "try: $(BIN)/procmix query $(OUT) \"SELECT * FROM composition LIMIT 10\""

# The browser tests need Chromium: `make report-check` runs them (CI runs both).
test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not browser"

test-fast: setup
	$(BIN)/pytest -m "not slow and not browser"

# The README's tour and the guides' examples, run as written (make demo first, so
# the corpus they read exists).
docs-check: setup
	PYTHONPATH=tests $(BIN)/python -m support.docs README.md docs/*.md

prepare: setup
	$(BIN)/procmix prepare $(INPUT) -o $(OUT) --workers $(WORKERS) --executor $(EXECUTOR)

stats: setup
	$(BIN)/procmix stats $(OUT)

query: setup
	$(BIN)/procmix query $(OUT) "$(SQL)"

mix: setup
	$(BIN)/procmix mix $(SPEC) $(CORPUS_ARG) -o $(MIX_OUT) --overwrite
	$(BIN)/procmix verify $(MIX_OUT)

sweep: setup
	$(BIN)/procmix sweep $(SPEC) $(CORPUS_ARG) --levels $(LEVELS) -o $(SWEEP_OUT) --overwrite
	$(BIN)/procmix verify $(SWEEP_OUT)

# After `make demo` and `make sweep`: one page per folder.
report: setup
	$(BIN)/procmix report $(OUT) -o out/report-corpus.html
	$(BIN)/procmix report $(SWEEP) -o out/report-sweep.html

report-check: setup
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	$(BIN)/pytest -m browser

embedding: setup
	$(BIN)/python -m mixtures.embedding $(OUT)

bench: setup decont-index
	$(BIN)/python bench/prepare_bench.py --data $(DATA) --decont $(DECONT_INDEX) --out bench/results/prepare.json
	@echo "wrote bench/results/prepare.json"
	$(BIN)/python bench/classifier_bench.py --data $(DATA) --out bench/results/classifiers.json
	@echo "wrote bench/results/classifiers.json"
	$(BIN)/python -m classifiers.card --bench bench/results/classifiers.json
	$(BIN)/python bench/mixtures_bench.py --data $(DATA) --out bench/results/mixtures.json
	@echo "wrote bench/results/mixtures.json"
	$(BIN)/python bench/storage_bench.py --data $(DATA) --out bench/results/storage.json
	@echo "wrote bench/results/storage.json"
	$(BIN)/python bench/within_bench.py --data $(DATA) --out bench/results/within.json
	@echo "wrote bench/results/within.json"

classifiers: setup
	$(BIN)/procmix train-classifiers --data $(DATA) --dev $(DEV) --out classifiers/models --bench bench/results/classifiers.json
	@echo "wrote classifiers/models: models, *.meta.json, *.confusion.json, report.json"

# The teacher gets its own venv: torch stays out of the one tests and prepare use.
word-vectors:
	test -x $(TEACHER_VENV)/bin/python || $(PYTHON) -m venv $(TEACHER_VENV)
	$(TEACHER_VENV)/bin/pip install --quiet --upgrade pip
	$(TEACHER_VENV)/bin/pip install --quiet torch==2.13.0
	$(TEACHER_VENV)/bin/pip install --quiet -e '.[teacher]'
	HF_HUB_OFFLINE=1 $(TEACHER_VENV)/bin/procmix distil-word-vectors --data $(DATA)

# wordllama gets its own venv too: training and prepare read the committed table.
word-table:
	test -x $(TABLE_VENV)/bin/python || $(PYTHON) -m venv $(TABLE_VENV)
	$(TABLE_VENV)/bin/pip install --quiet --upgrade pip
	$(TABLE_VENV)/bin/pip install --quiet -e '.[wordllama]'
	HF_HUB_OFFLINE=1 $(TABLE_VENV)/bin/procmix distil-word-vectors --data $(DATA) --teacher wordllama \
		--dim 128 --max-words 32000 --int8 --out classifiers/vectors/wordllama_words.npz

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf out .pytest_cache
