# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
#   make demo  installs only what colourising needs (ONNX Runtime, NumPy, Pillow: no torch) and runs the demo
#   make test  adds the training, video, cluster and dev extras, then lints and runs the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LIGHT := $(VENV)/.installed-light
FULL := $(VENV)/.installed-full

.PHONY: install install-light test lint demo bench docs clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(LIGHT): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $(LIGHT)

$(FULL): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[train,video,cluster,dev]'
	touch $(FULL) $(LIGHT)

install-light: $(LIGHT)  ## .venv/ with what colourising needs (no torch)
install: $(FULL)  ## .venv/ with everything: training, tests, lint

lint: $(FULL)
	$(BIN)/ruff check colorizer tests benchmarks experiments
	$(BIN)/ruff format --check colorizer tests benchmarks experiments

test: $(FULL) lint  ## lint + the test suite
	$(BIN)/python -m pytest -q

demo: $(LIGHT)  ## colourise the bundled examples with the bundled model
	$(BIN)/python -m colorizer.demo

docs: $(FULL)  ## the documentation site from docs/ (MkDocs, Material theme) into site/; a broken link fails
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: $(FULL)  ## run benchmarks/ and write BENCHMARKS.md (needs ../shared/photos)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) build *.egg-info demo-output site
