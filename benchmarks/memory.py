"""Memory and speed of the ways to fit a model: full fine-tuning in fp32 and bf16-mixed, with and
without gradient checkpointing, and LoRA; against the README's memory model.

    python benchmarks/memory.py [--model smollm2-135m-instruct|qwen-vocab] [--steps 4] [--modes ...]

Each mode trains the same model on the same data (the demo's arithmetic traces, R1-Zero prompts)
for ``--steps`` optimizer steps of ``--micro-batch`` x ``--accumulation``, in a fresh process, and
prints: trainable parameters, peak RSS, RSS before training (imports + model), training tokens/s,
the loss after the steps, and the memory model's prediction of peak - baseline (see README, "Memory
model"), where baseline is the process's RSS after importing torch and transformers.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from train_throughput import prepare  # noqa: E402  (the same model and data as the throughput benchmark)

MODES = {
    "fp32": {},
    "fp32+gc": {"gradient_checkpointing": True},
    "bf16-mixed": {"precision": "bf16-mixed"},
    "lora-r16": {"lora": {"r": 16, "alpha": 32}},
    "lora-r16+gc": {"lora": {"r": 16, "alpha": 32}, "gradient_checkpointing": True},
}


#: (layers, hidden, intermediate, vocab, parameters) of public models, for --fit
SHAPES = {
    "Qwen2.5-0.5B": (24, 896, 4864, 151936, 0.49e9),
    "Llama-3.2-1B": (16, 2048, 8192, 128256, 1.24e9),
    "Qwen2.5-1.5B": (28, 1536, 8960, 151936, 1.54e9),
    "Qwen2.5-3B": (36, 2048, 11008, 151936, 3.09e9),
    "Qwen2.5-7B": (28, 3584, 18944, 152064, 7.62e9),
    "Qwen2.5-14B": (48, 5120, 13824, 152064, 14.7e9),
    "Qwen2.5-32B": (64, 5120, 27648, 152064, 32.8e9),
    "Llama-3-70B": (80, 8192, 28672, 128256, 70.6e9),
}
FIT_MODES = {
    "fp32": {},
    "bf16-mixed": {"precision": "bf16-mixed"},
    "bf16-pure": {"precision": "bf16-pure"},
    "lora r16 (fp32 base)": {"lora": True},
    "lora r16 (bf16 base)": {"lora": True, "precision": "bf16-pure"},
}


def fit_table(tokens: int, response: int) -> None:
    """Which models fit 24 and 80 GB in each mode, by the memory model, with gradient checkpointing."""
    print(f"memory model, GiB, micro-batch of {tokens} tokens ({response} response tokens), gradient checkpointing, "
          "fused head; LoRA r16 on every linear layer")
    print(f"{'model':<14}" + "".join(f"{m:>22}" for m in FIT_MODES))
    for name, (layers, hidden, inter, vocab, n) in SHAPES.items():
        n_lora = 16 * layers * (4 * 2 * hidden + 3 * (hidden + inter))  # q,k,v,o ~ h x h; gate, up, down
        cells = []
        for cfg in FIT_MODES.values():
            trainable = n_lora if cfg.get("lora") else n
            p = predicted_bytes(int(n), int(trainable), {**cfg, "gradient_checkpointing": True}, tokens, layers,
                                hidden, inter, vocab, response)
            total = (p["weights"] + p["training"]) / 2**30
            fits = "80" if total <= 80 * 0.9 else "--"
            fits = "24+80" if total <= 24 * 0.9 else fits
            cells.append(f"{total:>9.1f} {fits:>6}")
        print(f"{name:<14}" + "".join(f"{c:>22}" for c in cells))
    print("fits: within 90% of a 24 GB / 80 GB GPU (the rest: CUDA context, allocator slack, fragmentation)")


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def predicted_bytes(n_params: int, n_trainable: int, cfg: dict, tokens: int, layers: int, hidden: int,
                    intermediate: int, vocab: int, response_tokens: int) -> dict:
    """The README's memory model (bytes), for float32 master weights on one device."""
    pure = cfg.get("precision") == "bf16-pure"
    width = 2 if pure else 4
    weights = width * n_params
    grads = width * n_trainable
    optimizer = 2 * width * n_trainable  # AdamW: two moments, in the weights' dtype
    per_token_layer = 4 * (8 * hidden + 4 * intermediate)  # saved inputs of attention/MLP ops, fp32
    if cfg.get("precision") in ("bf16-mixed", "bf16-pure"):
        per_token_layer //= 2
    if cfg.get("precision") == "bf16-mixed":
        weights += 2 * n_params  # the bf16 copies autocast makes of the weights during the forward
    if cfg.get("gradient_checkpointing"):
        activations = tokens * layers * 4 * hidden + tokens * per_token_layer  # layer inputs + one layer live
    else:
        activations = tokens * layers * per_token_layer
    # fused head: one float32 buffer of at most 256 MiB of (rows x vocab) logits, reused by every chunk
    head = min(256 * 2**20, 4 * response_tokens * vocab)
    return {"weights": weights, "grads": grads, "optimizer": optimizer, "activations": activations, "head": head,
            "training": grads + optimizer + activations + head}


def run_case(mode: str, workdir: Path, steps: int) -> dict:
    import torch  # noqa: F401
    import transformers  # noqa: F401

    baseline = rss()
    from tracesft.train import TrainConfig, train

    batch = json.loads((workdir / "settings.json").read_text())
    out = Path(tempfile.mkdtemp(dir=workdir))
    cfg = TrainConfig(model=str(workdir / "model"), train_data=str(workdir / "data.jsonl"), template="question_only",
                      max_length=1024, micro_batch_size=batch["micro_batch"],
                      gradient_accumulation_steps=batch["accumulation"], lr=1e-4, lr_schedule="constant",
                      max_steps=steps, seed=0, output_dir=str(out), plots=False, progress=False,
                      **MODES[mode]).validate()
    from tracesft.train import builders

    seen = {}
    build = builders.build_model

    def spy(*a, **kw):
        model, tok = build(*a, **kw)
        seen["params"] = sum(p.numel() for p in model.parameters())
        seen["trainable"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
        seen["config"] = model.config.to_dict() if not hasattr(model, "get_base_model") \
            else model.get_base_model().config.to_dict()
        seen["rss_model"] = rss()
        return model, tok

    builders.build_model = spy
    from tracesft.train import loop

    finish = loop._finish

    def finish_spy(*a, **kw):  # the peak of the training steps, before the final save's state dicts
        seen["peak_training"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return finish(*a, **kw)

    loop._finish = finish_spy
    train(cfg)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["kind"] == "train"]
    c = seen["config"]
    # one micro-batch is live at a time: its tokens (padded: what the activations hold)
    tokens = max((r["tokens"] / (1 - r["padding_fraction"])) for r in rows) // batch["accumulation"]
    response = max(r["response_tokens"] for r in rows) // batch["accumulation"]
    pred = predicted_bytes(seen["params"], seen["trainable"], MODES[mode], int(tokens), c["num_hidden_layers"],
                           c["hidden_size"], c["intermediate_size"], c["vocab_size"], response)
    return {"params": seen["params"], "trainable": seen["trainable"], "baseline": baseline,
            "rss_model": seen["rss_model"], "peak_training": seen["peak_training"],
            "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "tokens_per_s": sum(r["tokens"] for r in rows) / sum(r["seconds"] for r in rows),
            "loss": rows[-1]["loss"], "predicted": pred}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct", choices=["qwen-vocab", "smollm2-135m-instruct"])
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--accumulation", type=int, default=2)
    ap.add_argument("--fit", action="store_true", help="print which public models fit 24/80 GB by the memory model")
    ap.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fit:
        fit_table(4 * 1024, 2 * 1024)
        return
    if args.case:
        mode, workdir, steps = args.case
        print("RESULT " + json.dumps(run_case(mode, Path(workdir), int(steps))))
        return
    workdir = Path(tempfile.mkdtemp(prefix="tracesft-mem-"))
    prepare(workdir, args.pairs, args.model, args.micro_batch, args.accumulation)
    gib = 2 ** 30
    print(f"{args.model}: {args.steps} steps of {args.micro_batch} x {args.accumulation}, lr 1e-4, CPU, "
          f"{args.pairs} pairs; GiB. base = RSS after importing torch and transformers; train = peak RSS over the "
          "training steps; final = peak RSS including the final save; model = the memory model's weights + grads "
          "+ optimizer + activations + head (its prediction of train - base)")
    print(f"{'mode':<12} {'trainable':>12} {'tok/s':>6} {'loss':>7} {'base':>5} {'train':>6} {'final':>6} "
          f"{'train-base':>10} {'model':>6} {'(w/g/opt/act/head)':>26}")
    for mode in args.modes:
        proc = subprocess.run([sys.executable, __file__, "--case", mode, str(workdir), str(args.steps)],
                              capture_output=True, text=True)
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode != 0 or not line:
            sys.exit(f"{mode} failed:\n{proc.stderr[-3000:]}")
        r = json.loads(line[-1][7:])
        p = r["predicted"]
        parts = "/".join(f"{p[k] / gib:.2f}" for k in ("weights", "grads", "optimizer", "activations", "head"))
        print(f"{mode:<12} {r['trainable']:>12,} {r['tokens_per_s']:>6.0f} {r['loss']:>7.4f} "
              f"{r['baseline'] / gib:>5.2f} {r['peak_training'] / gib:>6.2f} {r['peak'] / gib:>6.2f} "
              f"{(r['peak_training'] - r['baseline']) / gib:>10.2f} "
              f"{(p['weights'] + p['training']) / gib:>6.2f} {parts:>26}", flush=True)


if __name__ == "__main__":
    main()
