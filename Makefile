# `make run` runs the whole workbook on the built-in SYNTHETIC sample; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SAMPLE := data/sample/sample.json
RUN_DIR ?= runs/sample
ARGS   ?=

.PHONY: setup run test test-colab lint bench book clean-cache

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

# Lint (below), the unit tests, then every notebook with nbval in this environment's kernel; notebook runs go to a
# fresh temporary folder (BC_RUNS_BASE) so earlier results are never reused. Two pytest-xdist workers, a test file
# (a notebook's cells, in order) per worker at a time: much of a test's time is single-threaded Python
# (Keras tracing a model, starting a kernel), which a second worker overlaps. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: lint
	BC_RUNS_BASE=$$(mktemp -d) MPLBACKEND=Agg $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env \
		-m "not stack" -n $(TEST_WORKERS) --dist loadfile --durations=15 $(ARGS)

# Colab's versions (constraints/colab.txt, from Colab's own pip freeze) in a second environment, .venv-colab, on
# Python 3.13 (Colab's) where the machine has it: notebooks 00-03 with small parameters (tests/test_stack.py) and
# the unit tests of the code that calls the libraries whose versions differ there (Keras and TensorFlow, NumPy,
# pandas, scikit-learn, imbalanced-learn, matplotlib, ipywidgets), but the slow ones; the command-line plumbing,
# the runner, the bench and the simulated Colab and Kaggle run in `make test` only. CI runs it after `make test`.
# COLAB_TESTS=tests COLAB_DESELECT=: every unit test but the slow ones (9 min 19 s measured on 2 shared cores).
# The first Python 3.13 that runs (a pyenv shim may exist without it), else $(PYTHON).
COLAB_PYTHON ?= $(shell for p in python3.13 $(HOME)/.pyenv/versions/3.13*/bin/python3.13; do \
	$$p -c "" 2>/dev/null && { echo $$p; exit; }; done; echo $(PYTHON))
COLAB_VENV   := .venv-colab
COLAB_STAMP  := $(COLAB_VENV)/.installed-stamp
$(COLAB_STAMP): pyproject.toml constraints/colab.txt
	test -x $(COLAB_VENV)/bin/python || $(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install --quiet -c constraints/colab.txt -e ".[cpu,run,test]"
	touch $(COLAB_STAMP)

# The command-line checks of test_training.py (argument errors, evaluate's and predict's files, the grid) train
# small models to test plumbing that the library versions do not change: `make test` runs them.
COLAB_DESELECT ?= not (commands_reject or evaluate_command or model_file_errors or predict_files or grid_search_scores)
COLAB_TESTS ?= $(addprefix tests/test_,stack.py models.py widgets.py training.py metrics.py balance.py splits.py \
	datasets.py plots.py stain.py paired.py pipeline.py stack_versions.py)
test-colab: $(COLAB_STAMP)
	test -f $(SAMPLE) || $(COLAB_VENV)/bin/python -m bc_helpers sample --out data/sample
	BC_RUNS_BASE=$$(mktemp -d) MPLBACKEND=Agg $(COLAB_VENV)/bin/python -m pytest $(COLAB_TESTS) -m "not slow" \
		-k "$(COLAB_DESELECT)" -n $(TEST_WORKERS) --dist loadfile --durations=10 $(ARGS)

# The course book from an executed run (RUN=, default the run above): a static site in _build/book/ that reads
# offline, to open in a browser or publish (README, "The course book").
RUN ?= $(RUN_DIR)
book: setup
	$(BIN)/python -m bc_helpers book --run $(RUN) --out _build/book

# ruff, then mypy over bc_helpers (pyproject.toml's [tool.mypy]); `make test` runs both first.
lint: setup
	$(BIN)/ruff check bc_helpers tests notebooks
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bc_helpers bench $(ARGS)

clean-cache:
	rm -rf data/cache
