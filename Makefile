# `make run` runs the whole workbook on the built-in SYNTHETIC sample; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SAMPLE := data/sample/sample.json
RUN_DIR ?= runs/sample
ARGS   ?=

.PHONY: setup run test lint bench book clean-cache

setup: $(STAMP) $(SAMPLE)

# Reinstalls only when pyproject.toml changes; quick when nothing changed. Extras: cpu (TensorFlow), run
# (papermill, for `make run`), lab (JupyterLab), test (pytest, nbval, ruff), browser (the browser test).
# The kernel "bc-workbook (.venv)" lets a Jupyter started elsewhere (VS Code, a system JupyterLab) use it.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[cpu,run,lab,test,browser]"
	$(BIN)/python -m ipykernel install --user --name bc-workbook --display-name "bc-workbook (.venv)" >/dev/null
	touch $(STAMP)

# Regenerated when the generator changes; an outdated built-in sample is replaced, never another folder.
$(SAMPLE): bc_helpers/data/sample.py | $(STAMP)
	$(BIN)/python -m bc_helpers sample --out data/sample --update >/dev/null
	touch $(SAMPLE)

run: setup
	$(BIN)/python -m bc_helpers run --out $(RUN_DIR) $(ARGS)

# Unit tests, then every notebook with nbval in this environment's kernel; notebook runs go to a fresh
# temporary folder (BC_RUNS_BASE) so earlier results are never reused. Two pytest-xdist workers, a test file
# (a notebook's cells, in order) per worker at a time: much of a test's time is single-threaded Python
# (Keras tracing a model, starting a kernel), which a second worker overlaps. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: setup
	$(BIN)/ruff check bc_helpers tests notebooks
	BC_RUNS_BASE=$$(mktemp -d) MPLBACKEND=Agg $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env \
		-n $(TEST_WORKERS) --dist loadfile --durations=15 $(ARGS)

# The course book from an executed run (RUN=, default the run above): a static site in _build/book/ that reads
# offline, to open in a browser or publish (README, "The course book").
RUN ?= $(RUN_DIR)
book: setup
	$(BIN)/python -m bc_helpers book --run $(RUN) --out _build/book

lint: setup
	$(BIN)/ruff check bc_helpers tests notebooks

bench: setup
	$(BIN)/python -m bc_helpers bench $(ARGS)

clean-cache:
	rm -rf data/cache
