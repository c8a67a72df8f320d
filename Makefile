# Two commands from a bare checkout: `make demo` and `make test`.
# Each creates the virtual environment it needs on first use.
#
# torch is installed first, at a pinned version, so that pip never resolves the
# bare `torch` requirement to a multi-gigabyte CUDA build on a CPU machine.
# A GPU user picks their own build, e.g. PyPI's CUDA build:
#   make test TORCH_SPEC="torch==2.14.1"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

# Tests and the demo run torch on one thread: two threads on a 2-core machine
# collapse when any other process is busy.
export OMP_NUM_THREADS ?= 1

.PHONY: demo test test-fast lint docs docs-check bench gpu-check clean

# The test stack: everything the suite and CI's checks need.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(BIN)/.installed-demo

# What the demo needs and no more: entembed, matplotlib and the baseball data.
$(BIN)/.installed-demo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $@

demo: $(BIN)/.installed-demo
	$(BIN)/entembed demo --out-dir demo-output

# The manual: Sphinx with warnings as errors (broken internal links included);
# the gallery runs its examples. docs-check opens pages in headless Chromium.
$(BIN)/.installed-docs: pyproject.toml $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

docs: $(BIN)/.installed-docs
	rm -rf docs/_build docs/generated docs/auto_examples docs/benchmarks
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# After make docs: the built site's links, and three pages in headless Chromium.
docs-check: $(BIN)/.installed
	$(BIN)/python docs/check_site.py docs/_build/html

# Everything: lint, types, and every test (what CI runs).
test: lint $(BIN)/.installed
	$(BIN)/python -m pytest --durations=15

# The unit tests, while working: no examples, DDP, or scikit-learn's common checks.
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not slow" --durations=10

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# One command rewrites benchmarks/results/. The peers measured (category_encoders,
# pytorch_tabular, CatBoost, LightGBM, skrub) live in their own environment, never
# the project's; transform runs in both, as pandas 2 and 3 hash strings at
# different speeds.
BENCH := .venv-bench/bin
$(BENCH)/.installed: pyproject.toml benchmarks/requirements-peers.txt
	$(PYTHON) -m venv .venv-bench
	$(BENCH)/python -m pip install --quiet --upgrade pip
	$(BENCH)/python -m pip install --quiet $(TORCH_SPEC)
	$(BENCH)/python -m pip install --quiet -r benchmarks/requirements-peers.txt -e ".[plots,datasets,onnx]"
	touch $@

# On a machine with a CUDA device: the GPU tests, the GPU example and the
# training page on the GPU, with that machine's own torch (no virtual
# environment; see the script).
gpu-check:
	bash benchmarks/gpu_check.sh

bench: $(BIN)/.installed $(BENCH)/.installed
	cd benchmarks && ../$(BIN)/python bench_vocabulary.py
	cd benchmarks && ../$(BIN)/python bench_transform.py
	cd benchmarks && for script in lookup transform training quality ablation interactions \
		time_to_quality fit_floor scaling threads serving; do \
		../$(BENCH)/python bench_$$script.py || exit 1; done
	cd benchmarks && ../$(BENCH)/python bench_time_to_quality.py --at-scale

clean:
	rm -rf $(VENV) .venv-bench .pytest_cache .ruff_cache .hypothesis docs/_build \
		docs/generated docs/auto_examples docs/benchmarks
