"""add_eos: responses end with the tokenizer's EOS, inside the loss mask; a model trained on free-form
answers then stops before max_new_tokens (and without EOS runs to the cap)."""

import json
import random

import pytest
from helpers.char_tokenizer import CharTokenizer

from tracesft import tokenize_prompt_and_output
from tracesft.data import CHAT, QUESTION_ONLY, R1_ZERO
from tracesft.errors import ConfigError
from tracesft.train.batching import build_train_set, collate
from tracesft.train.builders import resolve_add_eos
from tracesft.train.config import load_config


def test_tokenization_appends_eos_inside_the_response_mask():
    tok = CharTokenizer()
    plain = tokenize_prompt_and_output(["ab"], ["cd"], tok)
    out = tokenize_prompt_and_output(["ab"], ["cd"], tok, add_eos=True)
    assert out["labels"].shape[1] == plain["labels"].shape[1] + 1
    assert out["labels"][0, -1].item() == tok.eos_token_id and out["response_mask"][0, -1].item()
    assert out["response_mask"].sum().item() == plain["response_mask"].sum().item() + 1
    # an output already ending with EOS gets no second one (CharTokenizer: " " is id 2, its EOS)
    ends_with_eos = tokenize_prompt_and_output(["ab"], ["cd "], tok)
    again = tokenize_prompt_and_output(["ab"], ["cd "], tok, add_eos=True)
    assert again["labels"].tolist() == ends_with_eos["labels"].tolist()


def test_train_set_appends_eos_and_the_loss_covers_it():
    tok = CharTokenizer()
    ts = build_train_set(["ab", "xy"], ["cd", "efg"], tok, max_length=64, add_eos=True)
    assert [ids[-1] for ids in ts.input_ids] == [tok.eos_token_id] * 2
    batch = collate([ts[0], ts[1]], pad_id=0)
    for i, ids in enumerate(ts.input_ids):
        last = len(ids) - 2  # label position of the final token (labels are shifted by one)
        assert batch["labels"][i, last].item() == tok.eos_token_id and batch["response_mask"][i, last].item()
    cut = build_train_set(["ab"], ["cdefgh"], tok, max_length=5, add_eos=True)  # truncated: no EOS, no stop learnt
    assert cut.input_ids[0][-1] != tok.eos_token_id and cut.n_truncated == 1


def test_resolve_add_eos_per_template():
    tok = CharTokenizer()
    assert resolve_add_eos("auto", QUESTION_ONLY, tok) and resolve_add_eos("auto", R1_ZERO, tok)
    assert not resolve_add_eos("auto", CHAT, tok) and resolve_add_eos("true", CHAT, tok)
    assert not resolve_add_eos("false", QUESTION_ONLY, tok)

    class NoEos(CharTokenizer):
        eos_token_id = None

    assert not resolve_add_eos("auto", QUESTION_ONLY, NoEos())
    with pytest.raises(ConfigError, match="no EOS"):
        resolve_add_eos("true", QUESTION_ONLY, NoEos())


def test_add_eos_config_accepts_yaml_booleans(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: m\ntrain_data: d.jsonl\nadd_eos: false\n")
    assert load_config(str(cfg)).add_eos == "false"
    assert load_config(str(cfg), ["add_eos=true"]).add_eos == "true"
    with pytest.raises(ConfigError, match="add_eos"):
        load_config(str(cfg), ["add_eos=sometimes"])


@pytest.mark.slow
def test_model_trained_on_free_form_answers_stops(tmp_path):
    """Measured when written: 40 steps, lengths 17-18 of 32 with EOS; 32 of 32 without (the control)."""
    from tracesft.demo.models import tiny_qwen2
    from tracesft.demo.tokenizer import train_bpe_tokenizer
    from tracesft.train import TrainConfig, train

    rng = random.Random(0)
    rows = []
    for _ in range(64):
        a, b = rng.randint(1, 49), rng.randint(1, 49)
        rows.append({"prompt": f"What is {a} + {b}?", "response": f"{a} + {b} = {a + b}. The answer is {a + b}.",
                     "ground_truth": str(a + b)})
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tok = train_bpe_tokenizer([r["prompt"] + r["response"] for r in rows], vocab_size=300)
    tiny_qwen2(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, seed=0).save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    lengths = {}
    for add_eos in ("auto", "false"):
        out = tmp_path / f"run-{add_eos}"
        train(TrainConfig(model=str(tmp_path / "model"), train_data=str(tmp_path / "train.jsonl"), test_size=8,
                          max_length=64, micro_batch_size=8, lr=1e-2, warmup_steps=2, max_steps=40, eval_n=8,
                          eval_batch_size=8, eval_max_new_tokens=32, output_dir=str(out), progress=False, plots=False,
                          add_eos=add_eos, eval_before=False).validate())
        gens = [json.loads(line) for line in (out / "generations" / "step-00000040.jsonl").read_text().splitlines()]
        lengths[add_eos] = [g["response_length"] for g in gens]
    assert max(lengths["auto"]) < 32, lengths  # template auto -> question_only: EOS appended, generation stops
    assert min(lengths["false"]) == 32, lengths  # the control: without EOS every response runs to the cap
