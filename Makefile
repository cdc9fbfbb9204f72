# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# CPU build of torch by default (a plain `torch` pulls a multi-GB CUDA build).
# On a CUDA machine: make TORCH_SPEC=torch test
TORCH_SPEC ?= torch==2.13.0

.PHONY: test demo setup lint bench bench-train

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip show torch >/dev/null 2>&1 || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

test: setup
	$(PY) -m pytest

demo: setup
	$(VENV)/bin/tracesft demo

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

# Benchmark-only environment with TRL (not needed by make test).
.venv-bench/.installed: pyproject.toml
	test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip show torch >/dev/null 2>&1 || .venv-bench/bin/python -m pip install -q "$(TORCH_SPEC)"
	.venv-bench/bin/python -m pip install -q -e ".[qwen]" "trl>=1.16" datasets
	touch $@

bench-train: .venv-bench/.installed
	.venv-bench/bin/python benchmarks/train_throughput.py

bench: setup
	$(PY) benchmarks/logprobs.py
	$(PY) benchmarks/grading.py
