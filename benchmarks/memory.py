"""Memory and speed of the ways to fit a model: full fine-tuning in fp32 and bf16-mixed, with and
without gradient checkpointing, and LoRA; against the memory model (docs/performance.md).

    python benchmarks/memory.py [--model smollm2-135m-instruct|qwen-vocab] [--steps 4] [--modes ...]
    python benchmarks/memory.py --quick      # a smoke run: qwen-vocab, 1 step of 2 x 2, 8 pairs
    python benchmarks/memory.py --fit        # which public models fit 24/80 GB by the memory model

Each mode trains the same model on the same data (the demo's arithmetic traces, R1-Zero prompts)
for ``--steps`` optimizer steps of ``--micro-batch`` x ``--accumulation``, in a fresh process
(benchmarks/harness.py; --rounds rounds, modes alternating), and prints: trainable parameters, peak
RSS, RSS before training (imports + model), training tokens/s, the loss after the steps, and the
memory model's prediction of peak - baseline, where baseline is the process's RSS after importing
torch and transformers. The result goes to benchmarks/results/memory-DATE.json.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import harness
from workloads import MODELS, prepare, train_config, train_rows  # the throughput benchmark's model and data

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


def predicted_bytes(n_params: int, n_trainable: int, cfg: dict, tokens: int, layers: int, hidden: int,
                    intermediate: int, vocab: int, response_tokens: int) -> dict:
    """The memory model (bytes; docs/performance.md), for float32 master weights on one device."""
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

    baseline = harness.rss_now()
    from tracesft.train import builders, train

    out = Path(tempfile.mkdtemp(dir=workdir))
    cfg = train_config(workdir, out, max_steps=steps, **MODES[mode])

    seen = {}
    build = builders.build_model

    def spy(*a, **kw):
        model, tok = build(*a, **kw)
        seen["params"] = sum(p.numel() for p in model.parameters())
        seen["trainable"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
        seen["config"] = model.config.to_dict() if not hasattr(model, "get_base_model") \
            else model.get_base_model().config.to_dict()
        seen["model_rss"] = harness.rss_now()
        return model, tok

    builders.build_model = spy
    from tracesft.train import loop

    finish = loop._finish

    def finish_spy(*a, **kw):  # the peak of the training steps, before the final save's state dicts
        seen["peak_training_rss"] = harness.peak_rss_self()
        return finish(*a, **kw)

    loop._finish = finish_spy
    train(cfg)
    rows = train_rows(out)
    c = seen["config"]
    # one micro-batch is live at a time: its tokens (padded: what the activations hold)
    tokens = max((r["tokens"] / (1 - r["padding_fraction"])) for r in rows) // cfg.gradient_accumulation_steps
    response = max(r["response_tokens"] for r in rows) // cfg.gradient_accumulation_steps
    pred = predicted_bytes(seen["params"], seen["trainable"], MODES[mode], int(tokens), c["num_hidden_layers"],
                           c["hidden_size"], c["intermediate_size"], c["vocab_size"], response)
    return {"params": seen["params"], "trainable": seen["trainable"], "baseline_rss": baseline,
            "model_rss": seen["model_rss"], "peak_training_rss": seen["peak_training_rss"],
            "tokens_per_s": sum(r["tokens"] for r in rows) / sum(r["seconds"] for r in rows),
            "loss": rows[-1]["loss"], "predicted_training_bytes": pred["weights"] + pred["training"],
            "predicted": pred}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct", choices=MODELS)
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--accumulation", type=int, default=2)
    ap.add_argument("--fit", action="store_true", help="print which public models fit 24/80 GB by the memory model")
    ap.add_argument("--quick", action="store_true", help="a smoke run: qwen-vocab, 1 step of 2 x 2, 8 pairs")
    harness.add_arguments(ap, rounds=1)
    ap.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fit:
        fit_table(4 * 1024, 2 * 1024)
        return
    if args.case:
        mode, workdir, steps = args.case
        harness.emit(run_case(mode, Path(workdir), int(steps)))
        return
    if args.quick:
        args.model, args.steps, args.pairs, args.micro_batch, args.accumulation = "qwen-vocab", 1, 8, 2, 2
    workdir = Path(tempfile.mkdtemp(prefix="tracesft-mem-"))
    prepare(workdir, args.pairs, args.model, args.micro_batch, args.accumulation)
    cases = [harness.Case(mode, [__file__, "--case", mode, str(workdir), str(args.steps)]) for mode in args.modes]
    params = {k: v for k, v in vars(args).items() if k not in ("case", "results", "no_save", "fit")}
    result = harness.run(cases, rounds=args.rounds, params=params)
    gib = 2 ** 30
    print(f"\n{args.model}: {args.steps} steps of {args.micro_batch} x {args.accumulation}, lr 1e-4, CPU, "
          f"{args.pairs} pairs; GiB, median of {args.rounds} round(s). base = RSS after importing torch and "
          "transformers; train = peak RSS over the training steps; final = peak RSS including the final save; "
          "model = the memory model's weights + grads + optimizer + activations + head (its prediction of train - "
          "base)")
    print(f"{'mode':<12} {'trainable':>12} {'tok/s':>6} {'loss':>7} {'base':>5} {'train':>6} {'final':>6} "
          f"{'train-base':>10} {'model':>6} {'(w/g/opt/act/head)':>26}")
    for mode in args.modes:
        def m(figure, mode=mode):
            return harness.median(result, mode, figure)

        p = result["cases"][mode]["runs"][0]["predicted"]  # the same every round: a function of the shapes
        parts = "/".join(f"{p[k] / gib:.2f}" for k in ("weights", "grads", "optimizer", "activations", "head"))
        base, train = m("baseline_rss") / gib, m("peak_training_rss") / gib
        print(f"{mode:<12} {m('trainable'):>12,.0f} {m('tokens_per_s'):>6.0f} {m('loss'):>7.4f} {base:>5.2f} "
              f"{train:>6.2f} {m('peak_rss') / gib:>6.2f} {train - base:>10.2f} "
              f"{m('predicted_training_bytes') / gib:>6.2f} {parts:>26}", flush=True)
    harness.finish("memory", result, args)


if __name__ == "__main__":
    main()
