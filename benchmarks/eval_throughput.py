"""Evaluation throughput: Hugging Face ``generate`` vs vLLM, same model, prompts and greedy settings.

    .venv-vllm/bin/python benchmarks/eval_throughput.py [--demo-model DIR] [--prompts 64] [--max-new-tokens 100]
    (or: make bench-eval)

Two models: the demo model (``--demo-model``: a trained demo run's ``train/final``; without it, the
demo's architecture with random weights) and a Qwen2-shaped model with the real 151,936-token
vocabulary (random weights, 2 layers, hidden 256). Each (model, backend) runs in a fresh
subprocess, so "wall" holds everything a user waits for: imports, model load / engine start,
generation and grading. "gen tok/s" is generated tokens over the generation calls alone.

Also printed: the error of vLLM's entropy (top-k log-probs, renormalised) against the HF path's
exact entropy, per response, over the responses both backends generated identically.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

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
    return {"backend": backend, "start_s": ready - t0, "wall_s": time.perf_counter() - t0,
            "gen_s": s["generation_seconds"], "tokens": s["generated_tokens"], "tok_s": s["tokens_per_second"],
            "responses": [r["response"] for r in out["records"]],
            "entropies": [r["mean_token_entropy"] for r in out["records"]]}


def _subprocess(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"case {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo-model", default=None, help="a trained demo model directory (runs/demo-*/train/final)")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=64, help="HF generate batch size")
    ap.add_argument("--case", nargs=2, metavar=("BACKEND", "MODEL_DIR"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default="/tmp/tracesft-bench-eval")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case[0], args.case[1], args.prompts, args.max_new_tokens, args.batch_size)))
        return
    models = build_models(args.out, args.demo_model)
    common = ["--prompts", str(args.prompts), "--max-new-tokens", str(args.max_new_tokens),
              "--batch-size", str(args.batch_size)]
    print(f"{args.prompts} prompts, greedy, up to {args.max_new_tokens} new tokens, stop at </answer>; CPU "
          f"(vLLM: {_vllm_version()}, float32, eager unless compiled; HF: float32, batch {args.batch_size})\n")
    head = f"{'model':<30}{'backend':>14}{'start s':>9}{'gen s':>8}{'tokens':>8}{'gen tok/s':>11}{'wall s':>8}"
    print(head)
    print("-" * len(head))
    notes = []
    for name, path in models.items():
        res = {b: _subprocess(["--case", b, path, *common]) for b in BACKENDS}
        for b, r in res.items():
            print(f"{name:<30}{b:>14}{r['start_s']:>9.1f}{r['gen_s']:>8.1f}{r['tokens']:>8d}{r['tok_s']:>11.0f}"
                  f"{r['wall_s']:>8.1f}")
        same = [i for i, (a, b) in enumerate(zip(res["hf"]["responses"], res["vllm"]["responses"])) if a == b]
        errs = [res["vllm"]["entropies"][i] - res["hf"]["entropies"][i] for i in same]
        rel = [abs(e) / res["hf"]["entropies"][i] for e, i in zip(errs, same) if res["hf"]["entropies"][i] > 0]
        if errs:
            notes.append(f"{name}: identical responses {len(same)}/{len(res['hf']['responses'])}; vLLM top-k "
                         f"entropy - exact entropy, mean {sum(errs) / len(errs):+.4f} nats, mean |error| "
                         f"{sum(map(abs, errs)) / len(errs):.4f} nats ({100 * sum(rel) / max(1, len(rel)):.1f}% of "
                         f"the exact), exact mean {sum(res['hf']['entropies'][i] for i in same) / len(same):.3f}")
        else:
            notes.append(f"{name}: no identical responses; entropy not compared")
    print()
    print("\n".join(notes))


def _vllm_version() -> str:
    try:
        import vllm

        return vllm.__version__
    except ImportError:
        return "not installed"


if __name__ == "__main__":
    main()
