# Two commands matter: `make run` (search page on the shipped corpus, or SOURCE=your articles) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= var/index
# the articles `make run` / `make index` build from: SOURCE=/path/to/your/articles (a folder, a .jsonl export, a sitemap URL)
SOURCE ?= corpus
PORT ?= 8501
# the page listens on this machine only; HOST=0.0.0.0 serves the LAN (or put a reverse proxy in front)
HOST ?= 127.0.0.1
API_PORT ?= 8000
# one API process per core: Python's GIL serialises the non-numeric part of a process's searches
API_WORKERS ?= $(shell nproc 2>/dev/null || echo 1)
export LAWFAQ_INDEX ?= $(INDEX)


.PHONY: install run api test test-fast index rebuild bench bench-quick eval insights train train-stard adapter lint clean help

help:
	@echo "make install  the venv with the pinned runtime dependencies (.venv), nothing else"
	@echo "make run      install, build the index from corpus/ if missing, serve http://localhost:$(PORT)"
	@echo "             your articles: make run SOURCE=/path/to/articles INDEX=var/my-index  (HOST=0.0.0.0: the LAN)"
	@echo "make api      the JSON search API on http://localhost:$(API_PORT) (docs at /docs)"
	@echo "make test     install runtime + dev dependencies and run the whole test suite"
	@echo "make test-fast  the tests that need no model (well under a minute)"
	@echo "make index    update the index from SOURCE (default corpus/; incremental)"
	@echo "make eval     relevance figures on the shipped question set: articles and the cards"
	@echo "make insights the content-gap report from the question log (var/insights.html)"
	@echo "make train    a query tower from the shipped index's own titles and headings (~2 min)"
	@echo "make train-stard  5-fold CV + a query tower on STARD's training questions (needs ../shared/data)"
	@echo "make adapter  retrain the shipped query adapter from STARD (needs ../shared/data; ~20 min)"
	@echo "make bench    full benchmarks (slow: includes the 55k-article corpus when ../shared/data exists)"
	@echo "make lint     ruff"
	@echo "make clean    remove var/ (indexes) and .venv/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The project itself is installed editable (no copies): notebooks and the console
# scripts (lawfaq, lawfaq-ingest) import it from anywhere.
$(VENV)/.runtime: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@# setuptools' editable install prints a framed advisory on every run: kept in a log, shown only on failure
	@$(BIN)/pip install --quiet --no-deps --no-build-isolation -e . > $(VENV)/install-project.log 2>&1 \
		|| { cat $(VENV)/install-project.log; exit 1; }
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements-milvus.txt requirements-ray.txt requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@# setuptools' editable install prints a framed advisory on every run: kept in a log, shown only on failure
	@$(BIN)/pip install --quiet --no-deps --no-build-isolation -e . > $(VENV)/install-project.log 2>&1 \
		|| { cat $(VENV)/install-project.log; exit 1; }
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime

$(INDEX)/CURRENT: | $(VENV)/.runtime
	$(BIN)/python -m index build --source $(SOURCE) --index $(INDEX)

index: $(VENV)/.runtime
	$(BIN)/python -m index build --source $(SOURCE) --index $(INDEX)

rebuild: $(VENV)/.runtime
	$(BIN)/python -m index build --source $(SOURCE) --index $(INDEX) --full

run: $(VENV)/.runtime $(INDEX)/CURRENT
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.address $(HOST)

api: $(VENV)/.runtime $(INDEX)/CURRENT
	$(BIN)/python -m index.serving.server index.serving.api:create_app --factory --host 127.0.0.1 --port $(API_PORT) --workers $(API_WORKERS)

test: $(VENV)/.dev
	$(BIN)/python -m pytest

test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -m "not slow"

eval: $(VENV)/.runtime $(INDEX)/CURRENT
	$(BIN)/python -m index eval --index $(INDEX) --queries eval/queries.jsonl --qrels eval/qrels.tsv \
		--answers eval/answers.jsonl --noanswer eval/noanswer.jsonl

insights: $(VENV)/.runtime $(INDEX)/CURRENT
	$(BIN)/python -m index insights --index $(INDEX) --out var/insights.html

STARD ?= ../shared/data/stard
STARD_INDEX ?= var/stard/idx

# Serve a trained tower with LAWFAQ_QUERY_MODEL=<the folder printed last>.
train: $(VENV)/.runtime $(INDEX)/CURRENT
	$(BIN)/python -m index train --index $(INDEX) --name shipped

train-stard: $(VENV)/.runtime
	$(BIN)/python -m index build --source $(STARD)/corpus.jsonl --index $(STARD_INDEX)
	$(BIN)/python -m index train --index $(STARD_INDEX) --queries $(STARD)/train_queries.jsonl \
		--qrels $(STARD)/train_qrels.tsv --name stard

# Rebuild the shipped query adapter (index/data/query_adapter.npz): STARD's training questions + the
# shipped corpus's titles and headings, 5-fold CV printed first (~20 min on 2 cores; needs ../shared/data)
adapter: $(VENV)/.runtime $(INDEX)/CURRENT
	$(BIN)/python -m index build --source $(STARD)/corpus.jsonl --index $(STARD_INDEX)
	$(BIN)/python -m index.training.adapter --index $(STARD_INDEX) --queries $(STARD)/train_queries.jsonl \
		--qrels $(STARD)/train_qrels.tsv --also-index $(INDEX)

bench: $(VENV)/.dev
	$(BIN)/python -m bench.run --full

bench-quick: $(VENV)/.dev
	$(BIN)/python -m bench.run --quick

lint: $(VENV)/.dev
	$(BIN)/ruff check .

clean:
	rm -rf var $(VENV)
