"""Training throughput: tracesft vs TRL's SFTTrainer on the same model, data and batch.

    make bench-train          # = .venv-bench/bin/python benchmarks/train_throughput.py
    python benchmarks/train_throughput.py [--rounds 3] [--pairs 512]
    python benchmarks/train_throughput.py --model smollm2-135m-instruct --pairs 64 --micro-batch 8 --rounds 2
    python benchmarks/train_throughput.py --frameworks tracesft baseline --baseline OLD/src   # before/after

Needs TRL (a benchmark-only dependency: `make bench-train` installs it in .venv-bench). Model: a
Qwen2-architecture model with hidden 128, 4 layers, 4 heads, 2 KV heads, tied embeddings and the
real Qwen2.5 vocabulary (151,936 rows, `tracesft.qwen2_tokenizer()`), random weights; data: 512
prompt/completion pairs (R1-Zero prompts of the demo's arithmetic task with worked traces);
effective batch 16 x 2 accumulation, lr 1e-4 constant, one epoch (16 optimizer steps), float32 on
CPU. Each run is a fresh process; the frameworks alternate for --rounds rounds. ``--model
smollm2-135m-instruct`` uses the real pretrained SmolLM2-135M-Instruct (imported from its PyPI
package; 49,152-token vocabulary, 30 layers) on the same data instead.

Measured per run: training tokens (prompt + response, no padding) per second of training time
(TRL: `train_runtime` of `trainer.train()`; tracesft: the sum of its optimizer steps' wall time),
the process's peak RSS, and the final loss (mean of the last 4 optimizer steps' logged losses).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def prepare(workdir: Path, pairs: int, model_name: str, micro_batch: int, accumulation: int) -> None:
    from tracesft.data import R1_ZERO, apply_template
    from tracesft.demo.task import make_dataset

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


def run_trl(workdir: Path) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    rows = [json.loads(line) for line in (workdir / "data.jsonl").read_text().splitlines()]
    batch = json.loads((workdir / "settings.json").read_text())
    model = AutoModelForCausalLM.from_pretrained(workdir / "model")
    tok = AutoTokenizer.from_pretrained(workdir / "model")
    args = SFTConfig(output_dir=str(workdir / "trl_out"), per_device_train_batch_size=batch["micro_batch"],
                     gradient_accumulation_steps=batch["accumulation"], learning_rate=1e-4,
                     lr_scheduler_type="constant", warmup_steps=0,
                     num_train_epochs=1, logging_steps=1, save_strategy="no", report_to=[],
                     gradient_checkpointing=False, use_cpu=True, max_length=1024, seed=0, bf16=False, fp16=False,
                     dataloader_num_workers=0, disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok)
    tokens = sum(sum(m) for m in trainer.train_dataset["attention_mask"]) if "attention_mask" in \
        trainer.train_dataset.column_names else sum(len(x) for x in trainer.train_dataset["input_ids"])
    out = trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"tokens": tokens, "seconds": out.metrics["train_runtime"], "losses": losses}


def run_tracesft(workdir: Path) -> dict:
    from tracesft.train import TrainConfig, train

    out = Path(tempfile.mkdtemp(dir=workdir))
    batch = json.loads((workdir / "settings.json").read_text())
    cfg = TrainConfig(model=str(workdir / "model"), train_data=str(workdir / "data.jsonl"), template="question_only",
                      max_length=1024, micro_batch_size=batch["micro_batch"],
                      gradient_accumulation_steps=batch["accumulation"], loss_normalization="token",
                      lr=1e-4, lr_schedule="constant", warmup_steps=0, epochs=1, seed=0, output_dir=str(out),
                      plots=False, progress=False).validate()
    train(cfg)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["kind"] == "train"]
    return {"tokens": sum(r["tokens"] for r in rows),
            "seconds": sum(r["seconds"] for r in rows), "losses": [r["loss"] for r in rows]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=512)
    ap.add_argument("--model", default="qwen-vocab", choices=["qwen-vocab", "smollm2-135m-instruct"])
    ap.add_argument("--micro-batch", type=int, default=16)
    ap.add_argument("--accumulation", type=int, default=2)
    ap.add_argument("--frameworks", nargs="+", default=["trl", "tracesft"], choices=["trl", "tracesft", "baseline"],
                    help="run only some; 'baseline' is tracesft from --baseline's source tree (before a change)")
    ap.add_argument("--baseline", metavar="SRC", help="another tracesft source tree (its src/), run as 'baseline'")
    ap.add_argument("--case", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        name, workdir = args.case
        result = (run_trl if name == "trl" else run_tracesft)(Path(workdir))
        result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print("RESULT " + json.dumps(result))
        return

    workdir = Path(tempfile.mkdtemp(prefix="tracesft-bench-"))
    prepare(workdir, args.pairs, args.model, args.micro_batch, args.accumulation)
    if "baseline" in args.frameworks and not args.baseline:
        sys.exit("--frameworks baseline needs --baseline SRC")
    results: dict[str, list] = {name: [] for name in args.frameworks}
    for r in range(args.rounds):
        for name in args.frameworks:
            env = dict(os.environ, PYTHONPATH=args.baseline) if name == "baseline" else None
            case = "tracesft" if name == "baseline" else name
            proc = subprocess.run([sys.executable, __file__, "--case", case, str(workdir)],
                                  capture_output=True, text=True, env=env)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode != 0 or not line:
                sys.exit(f"{name} failed:\n{proc.stderr[-3000:]}")
            res = json.loads(line[-1][7:])
            results[name].append(res)
            print(f"round {r + 1} {name:<9} {res['tokens'] / res['seconds']:8.0f} tok/s  "
                  f"peak {res['peak_rss'] / 2**30:5.2f} GiB  final loss {statistics.mean(res['losses'][-4:]):.4f}",
                  flush=True)

    def med(name, f):
        return statistics.median(f(x) for x in results[name])

    print(f"\n{args.model}: {args.pairs} pairs, batch {args.micro_batch} x {args.accumulation}, float32, CPU; "
          f"median of {args.rounds} rounds")
    print(f"{'':<10} {'tokens/s':>9} {'peak RSS':>9} {'final loss':>11}")
    for name in args.frameworks:
        print(f"{name:<10} {med(name, lambda x: x['tokens'] / x['seconds']):>9.0f} "
              f"{med(name, lambda x: x['peak_rss']) / 2**30:>7.2f}Gi "
              f"{med(name, lambda x: statistics.mean(x['losses'][-4:])):>11.4f}")
    def tokens_per_s(x):
        return x["tokens"] / x["seconds"]

    for other in ("trl", "baseline"):
        if other in args.frameworks and "tracesft" in args.frameworks:
            speed = med("tracesft", tokens_per_s) / med(other, tokens_per_s)
            mem = med("tracesft", lambda x: x["peak_rss"]) / med(other, lambda x: x["peak_rss"])
            print(f"ratio (tracesft / {other}): speed {speed:.2f}x, peak memory {mem:.2f}x")


if __name__ == "__main__":
    main()
