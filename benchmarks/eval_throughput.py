"""Evaluation throughput: Hugging Face ``generate`` vs vLLM, same model, prompts and greedy settings.

    .venv-vllm/bin/python benchmarks/eval_throughput.py [--demo-model DIR] [--prompts 64] [--max-new-tokens 100]
    (or: make bench-eval)
    python benchmarks/eval_throughput.py --quick     # a smoke run: 8 prompts, 16 new tokens, HF only

Two models: the demo model (``--demo-model``: a trained demo run's ``train/final``; without it, the
demo's architecture with random weights) and a Qwen2-shaped model with the real 151,936-token
vocabulary (random weights, 2 layers, hidden 256). Each (model, backend) runs in a fresh
subprocess (benchmarks/harness.py; --rounds rounds, alternating), so "wall" holds everything a user
waits for: interpreter start, imports, model load / engine start, generation and grading. "gen
tok/s" is generated tokens over the generation calls alone. Where vLLM is not installed, its
backends are left out with a note. The result goes to benchmarks/results/eval_throughput-DATE.json.

Also printed: the error of vLLM's entropy (top-k log-probs, renormalised) against the HF path's
exact entropy, per response, over the responses both backends generated identically.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import harness

QWEN_VOCAB = 151_936
BACKENDS = ("hf", "vllm", "vllm-compiled")  # vllm: eager, the CPU default; vllm-compiled: torch.compile


def _prompts(n: int) -> tuple[list[str], list[str]]:
    from tracesft.demo.task import DEMO_TEMPLATE, make_dataset

    recs = make_dataset(n, seed=123, wrong_share=0.0, max_digits=2, word_problems=False)
    return [DEMO_TEMPLATE.replace("{question}", r["prompt"]) for r in recs], [r["ground_truth"] for r in recs]


def build_models(out: str, demo_model: str | None) -> dict[str, str]:
    """Write the benchmark's model directories under ``out``; returns name -> directory."""
    from pathlib import Path

    from tracesft.demo.models import tiny_qwen2

    out = Path(out)
    models = {}
    if demo_model:
        models["demo (trained)"] = demo_model
    else:
        from tracesft.demo.task import DEMO_TEMPLATE, make_dataset
        from tracesft.demo.tokenizer import train_bpe_tokenizer

        recs = make_dataset(2000, seed=0, wrong_share=0.0, max_digits=2, word_problems=False)
        tok = train_bpe_tokenizer([DEMO_TEMPLATE.replace("{question}", r["prompt"]) + r["response"] for r in recs],
                                  vocab_size=400)
        model = tiny_qwen2(vocab_size=len(tok), hidden_size=128, num_hidden_layers=3, num_attention_heads=4,
                           num_key_value_heads=2, intermediate_size=512, max_position_embeddings=256)
        model.save_pretrained(out / "demo")
        tok.save_pretrained(out / "demo")
        models["demo (random)"] = str(out / "demo")
    from tracesft import qwen2_tokenizer

    tok = qwen2_tokenizer()
    model = tiny_qwen2(vocab_size=QWEN_VOCAB, hidden_size=256, num_hidden_layers=2, num_attention_heads=8,
                       num_key_value_heads=2, intermediate_size=1024, max_position_embeddings=512)
    model.save_pretrained(out / "qwen-vocab")
    tok.save_pretrained(out / "qwen-vocab")
    models["Qwen2-shaped, 151,936 vocab"] = str(out / "qwen-vocab")
    return models


def run_case(backend: str, model_dir: str, n: int, max_new_tokens: int, batch_size: int) -> dict:
    t0 = time.perf_counter()
    from tracesft.grading import r1_zero_reward_fn

    prompts, truths = _prompts(n)
    kw = dict(max_new_tokens=max_new_tokens, stop=("</answer>",))
    if backend == "hf":
        from tracesft.evaluate import load_model_and_tokenizer, log_generations

        model, tok = load_model_and_tokenizer(model_dir, device="cpu", dtype="float32")
        ready = time.perf_counter()
        out = log_generations(model, tok, prompts, truths, r1_zero_reward_fn, batch_size=batch_size, progress=False,
                              **kw)
    else:
        from tracesft.evaluate.vllm import init_vllm, log_generations_vllm, shutdown_vllm

        llm = init_vllm(model_dir, device="cpu", enforce_eager=backend == "vllm")
        ready = time.perf_counter()
        out = log_generations_vllm(llm, prompts, truths, r1_zero_reward_fn, **kw)
        shutdown_vllm(llm)
    s = out["summary"]
    return {"backend": backend, "start_s": ready - t0, "in_process_s": time.perf_counter() - t0,
            "gen_s": s["generation_seconds"], "tokens": s["generated_tokens"], "tok_s": s["tokens_per_second"],
            "responses": [r["response"] for r in out["records"]],
            "entropies": [r["mean_token_entropy"] for r in out["records"]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo-model", default=None, help="a trained demo model directory (runs/demo-*/train/final)")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=64, help="HF generate batch size")
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 8 prompts, 16 new tokens, HF only")
    ap.add_argument("--out", default="/tmp/tracesft-bench-eval", help="where the benchmark's models are written")
    harness.add_arguments(ap, rounds=1)
    ap.add_argument("--case", nargs=2, metavar=("BACKEND", "MODEL_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        harness.emit(run_case(args.case[0], args.case[1], args.prompts, args.max_new_tokens, args.batch_size))
        return
    if args.quick:
        args.prompts, args.max_new_tokens, args.backends = 8, 16, ["hf"]
    if any(b != "hf" for b in args.backends) and importlib.util.find_spec("vllm") is None:
        print("vLLM is not installed in this environment (run this in .venv-vllm: `make bench-eval`): HF only")
        args.backends = [b for b in args.backends if b == "hf"]
    models = build_models(args.out, args.demo_model)
    common = ["--prompts", str(args.prompts), "--max-new-tokens", str(args.max_new_tokens),
              "--batch-size", str(args.batch_size)]
    cases = [harness.Case(f"{name} / {b}", [__file__, "--case", b, path, *common])
             for name, path in models.items() for b in args.backends]
    params = {k: v for k, v in vars(args).items() if k not in ("case", "results", "no_save")}
    params["models"] = models
    result = harness.run(cases, rounds=args.rounds, params=params)

    print(f"\n{args.prompts} prompts, greedy, up to {args.max_new_tokens} new tokens, stop at </answer>; CPU "
          f"(vLLM: {_vllm_version()}, float32, eager unless compiled; HF: float32, batch {args.batch_size}); "
          f"median of {args.rounds} round(s)\n")
    head = f"{'model':<30}{'backend':>14}{'start s':>9}{'gen s':>8}{'tokens':>8}{'gen tok/s':>11}{'wall s':>8}"
    print(head)
    print("-" * len(head))
    notes = []
    for name in models:
        def m(b, figure, name=name):
            return harness.median(result, f"{name} / {b}", figure)

        for b in args.backends:
            print(f"{name:<30}{b:>14}{m(b, 'start_s'):>9.1f}{m(b, 'gen_s'):>8.1f}{m(b, 'tokens'):>8.0f}"
                  f"{m(b, 'tok_s'):>11.0f}{m(b, 'wall_s'):>8.1f}")
        if "hf" not in args.backends or "vllm" not in args.backends:
            continue
        hf, vl = (result["cases"][f"{name} / {b}"]["runs"][0] for b in ("hf", "vllm"))
        same = [i for i, (a, b) in enumerate(zip(hf["responses"], vl["responses"])) if a == b]
        errs = [vl["entropies"][i] - hf["entropies"][i] for i in same]
        rel = [abs(e) / hf["entropies"][i] for e, i in zip(errs, same) if hf["entropies"][i] > 0]
        if errs:
            notes.append(f"{name}: identical responses {len(same)}/{len(hf['responses'])}; vLLM top-k "
                         f"entropy - exact entropy, mean {sum(errs) / len(errs):+.4f} nats, mean |error| "
                         f"{sum(map(abs, errs)) / len(errs):.4f} nats ({100 * sum(rel) / max(1, len(rel)):.1f}% of "
                         f"the exact), exact mean {sum(hf['entropies'][i] for i in same) / len(same):.3f}")
        else:
            notes.append(f"{name}: no identical responses; entropy not compared")
    if notes:
        print()
        print("\n".join(notes))
    result["notes"] = notes
    harness.finish("eval_throughput", result, args)


def _vllm_version() -> str:
    try:
        import vllm

        return vllm.__version__
    except ImportError:
        return "not installed"


if __name__ == "__main__":
    main()
