# Two commands matter: `make run` (search page on the shipped corpus) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= var/index
PORT ?= 8501
export LAWFAQ_INDEX ?= $(INDEX)

.PHONY: run test index rebuild bench bench-quick eval lint clean help

help:
	@echo "make run      install, build the index from corpus/ if missing, serve http://localhost:$(PORT)"
	@echo "make test     install runtime + dev dependencies and run the whole test suite"
	@echo "make index    update the index from corpus/ (incremental)"
	@echo "make eval     relevance figures on the shipped question set"
	@echo "make bench    full benchmarks (slow: includes the 55k-article corpus when ../shared/data exists)"
	@echo "make lint     ruff"
	@echo "make clean    remove var/ (indexes) and .venv/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

$(INDEX)/CURRENT: | $(VENV)/.runtime
	$(BIN)/python -m ingest build --source corpus --index $(INDEX)

index: $(VENV)/.runtime
	$(BIN)/python -m ingest build --source corpus --index $(INDEX)

rebuild: $(VENV)/.runtime
	$(BIN)/python -m ingest build --source corpus --index $(INDEX) --full

run: $(VENV)/.runtime $(INDEX)/CURRENT
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false --server.fileWatcherType none

test: $(VENV)/.dev
	$(BIN)/python -m pytest

eval: $(VENV)/.runtime $(INDEX)/CURRENT
	$(BIN)/python -m index eval --index $(INDEX) --queries eval/queries.jsonl --qrels eval/qrels.tsv

bench: $(VENV)/.dev
	$(BIN)/python -m bench.run --full

bench-quick: $(VENV)/.dev
	$(BIN)/python -m bench.run --quick

lint: $(VENV)/.dev
	$(BIN)/ruff check .

clean:
	rm -rf var $(VENV)
