"""tracesft.models: paths checked before loading (a hub id only from the local cache), unwrapping
DDP / torch.compile / peft, and the tied output head."""

import pytest
import torch

from tracesft.demo.models import tiny_qwen2
from tracesft.errors import UserInputError
from tracesft.models import (
    base_model,
    is_adapted,
    load_model_and_tokenizer,
    output_embedding,
    tied_parameter_names,
    ties_word_embeddings,
    unwrap_model,
    unwrap_parallel,
    without_tied,
)


def _refuse_loading(monkeypatch):
    import transformers

    def called(*args, **kwargs):
        raise AssertionError("from_pretrained was called: the path should have been refused before")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", called)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", called)


def test_a_missing_relative_path_is_one_line_and_no_hub_look_up(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    _refuse_loading(monkeypatch)
    # "runs/final" has the shape of a hub id ("org/name"): before, transformers was asked for it
    with pytest.raises(UserInputError) as err:
        load_model_and_tokenizer("runs/final")
    assert str(err.value) == ("model directory runs/final does not exist (nor is runs/final a model in the local "
                              "Hugging Face cache; nothing is downloaded)")
    with pytest.raises(UserInputError, match="^model directory runs/x/final does not exist or has no config.json$"):
        load_model_and_tokenizer("runs/x/final")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with pytest.raises(UserInputError, match="^tokenizer directory org/tok does not exist .nor is org/tok a model"):
        load_model_and_tokenizer("model", tokenizer_path="org/tok")


def test_a_hub_id_in_the_local_cache_loads(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from tracesft.demo.tokenizer import train_bpe_tokenizer

    cache = tmp_path / "hub"
    repo = cache / "models--org--tiny"
    snapshot = repo / "snapshots" / "0123abcd"
    tok = train_bpe_tokenizer(["12 + 34 = 46"] * 4, vocab_size=64)
    tiny_qwen2(vocab_size=len(tok)).save_pretrained(snapshot)
    tok.save_pretrained(snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import: the env is too late
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    model, loaded = load_model_and_tokenizer("org/tiny")
    assert model.config.vocab_size == len(tok) and len(loaded) == len(tok)


def test_unwrap_ddp_compile_and_peft(tmp_path):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    model = tiny_qwen2(vocab_size=64)
    assert unwrap_parallel(model) is model and unwrap_model(model) is model and not is_adapted(model)
    compiled = torch.compile(model)  # wraps lazily: nothing is compiled until it is called
    assert compiled is not model and unwrap_parallel(compiled) is model
    dist.init_process_group("gloo", store=dist.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1)
    try:
        assert unwrap_parallel(DistributedDataParallel(compiled)) is model
    finally:
        dist.destroy_process_group()
    peft = pytest.importorskip("peft")
    adapted = peft.get_peft_model(model, peft.LoraConfig(r=2, target_modules="all-linear"))
    assert is_adapted(adapted) and unwrap_parallel(adapted) is adapted  # the adapters are what trains
    assert base_model(adapted) is model and unwrap_model(torch.compile(adapted)) is model


@pytest.mark.parametrize("tied", [True, False])
def test_tied_head(tied):
    model = tiny_qwen2(vocab_size=64, tie_word_embeddings=tied)
    assert ties_word_embeddings(model) is tied
    assert output_embedding(model) is model.lm_head and output_embedding(torch.nn.Linear(2, 2)) is None
    names = tied_parameter_names(model)
    assert names == ({"lm_head.weight"} if tied else set())
    state = model.state_dict()
    assert set(without_tied(state, names)) == set(state) - names
