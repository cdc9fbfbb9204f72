"""Peak memory and wall time of log-probs + entropy, forward and backward: full logits vs fused head.

    python benchmarks/logprobs.py [--tokens 512 2048 4096] [--repeats 2] [--rounds 1]
    python benchmarks/logprobs.py --quick       # a smoke run: N=256, one repeat
    python benchmarks/logprobs.py --baseline OLD/src   # also the fused head of another source tree

Paths: "plain" (full logits), "fused" (the chunked head; its backward recomputes the logits) and
"fused-hint" (the chunked head told the loss weights w in the forward, ``grad_hint=w``, as training
does: it forms the gradients in the forward, three matrix products in all instead of four).

Each (path, N) case runs in a fresh subprocess (benchmarks/harness.py; --rounds rounds,
alternating; medians over rounds). Inputs: hidden (N, 896) and the output weight
(151,936, 896), both float32 and requiring grad, labels (N,). The step: log p(label) and entropy
(entropy for logging, as in training), then backward of sum(log_probs * w). "peak +" is the
process's peak RSS minus its RSS once the inputs exist. Both paths must also allocate the weight
gradient (vocab x hidden float32 = 545 MB), which no head implementation can avoid; the last
columns subtract it to show what the logits themselves cost. The result goes to
benchmarks/results/logprobs-DATE.json.
"""

from __future__ import annotations

import argparse
import time

import harness

HIDDEN, VOCAB = 896, 151_936


def run_case(path: str, n: int, repeats: int) -> dict:
    import torch

    from tracesft import fused_logprobs
    from tracesft.fused_logprobs import fused_linear_log_probs
    from tracesft.logprobs import compute_entropy, log_probs_from_logits

    torch.manual_seed(0)
    hidden = (torch.randn(n, HIDDEN) * 0.5).requires_grad_()
    weight = (torch.randn(VOCAB, HIDDEN) * 0.02).requires_grad_()
    labels = torch.randint(0, VOCAB, (n,))
    w = torch.randn(n)
    base = harness.rss_now()
    times = []
    for _ in range(repeats):
        hidden.grad = weight.grad = None
        t0 = time.perf_counter()
        if path == "fused-hint":
            lp, ent = fused_linear_log_probs(hidden, weight, labels, return_entropy=True, grad_hint=w)
        elif path.startswith("fused"):
            lp, ent = fused_linear_log_probs(hidden, weight, labels, return_entropy=True)
        else:
            logits = hidden @ weight.t()
            lp = log_probs_from_logits(logits[None], labels[None])[0]
            ent = compute_entropy(logits)
        entropy_mean = ent.detach().mean().item()
        (lp * w).sum().backward()
        times.append(time.perf_counter() - t0)
        del lp, ent
        if path == "plain":
            del logits
    peak = harness.peak_rss_self()
    out = {"path": path, "n": n, "peak_rss_increase": peak - base, "seconds": min(times), "entropy": entropy_mean}
    if path.startswith("fused") and hasattr(fused_logprobs, "_block_rows"):  # the sizes chosen (not in a baseline)
        out.update(chunk_rows=fused_logprobs.auto_chunk_size(VOCAB, n_tokens=n),
                   block_rows=fused_logprobs._block_rows(VOCAB, hidden.device),
                   last_level_cache=fused_logprobs._last_level_cache_bytes())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, nargs="+", default=[512, 2048, 4096])
    ap.add_argument("--repeats", type=int, default=2, help="timed repeats within a process (the best is kept)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: N=256, one repeat")
    ap.add_argument("--baseline", metavar="SRC", help="also run the fused head of another tracesft source tree (its "
                    "src/), as 'fused-baseline': a before/after in one run")
    harness.add_arguments(ap, rounds=1)
    ap.add_argument("--case", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        harness.emit(run_case(args.case[0], int(args.case[1]), args.repeats))
        return
    if args.quick:
        args.tokens, args.repeats = [256], 1
    paths = ("plain", "fused", "fused-hint") + (("fused-baseline",) if args.baseline else ())
    cases = [harness.Case(f"{path} N={n}", [__file__, "--case", path, str(n), "--repeats",
                                            str(args.repeats)],
                          env={"PYTHONPATH": args.baseline} if path == "fused-baseline" else {})
             for n in args.tokens for path in paths]
    params = {k: v for k, v in vars(args).items() if k not in ("case", "results", "no_save")}
    result = harness.run(cases, rounds=args.rounds, params={**params, "hidden": HIDDEN, "vocab": VOCAB})

    grad_w = VOCAB * HIDDEN * 4
    gb = 2**30
    print(f"\nhidden {HIDDEN}, vocab {VOCAB:,}, float32, CPU, forward+backward with entropy "
          f"(best of {args.repeats} per process, median of {args.rounds} round(s)); "
          f"weight grad = {grad_w / gb:.2f} GiB")
    head = (f"{'N':>5} | {'plain peak+':>11} {'fused peak+':>11} {'ratio':>6} | {'plain s':>7} {'fused s':>7} "
            f"{'ratio':>6} | {'plain-gradW':>11} {'fused-gradW':>11} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for n in args.tokens:
        pm, fm = (harness.median(result, f"{p} N={n}", "peak_rss_increase") for p in ("plain", "fused"))
        ps, fs = (harness.median(result, f"{p} N={n}", "seconds") for p in ("plain", "fused"))
        pl, fl = pm - grad_w, fm - grad_w
        print(f"{n:>5} | {pm / gb:>9.2f}Gi {fm / gb:>9.2f}Gi {fm / pm:>6.1%} | {ps:>7.2f} "
              f"{fs:>7.2f} {fs / ps:>5.2f}x | {pl / gb:>9.2f}Gi {fl / gb:>9.2f}Gi {fl / pl:>6.1%}")
        hs = harness.median(result, f"fused-hint N={n}", "seconds")
        hm = harness.median(result, f"fused-hint N={n}", "peak_rss_increase")
        print(f"{'':>5}   fused, loss weights given (grad_hint): {hs:.2f} s ({hs / ps:.2f}x plain), peak+ "
              f"{hm / gb:.2f}Gi ({hm / pm:.1%} of plain)")
        if args.baseline:
            bs = harness.median(result, f"fused-baseline N={n}", "seconds")
            bm = harness.median(result, f"fused-baseline N={n}", "peak_rss_increase")
            print(f"{'':>5}   baseline fused: {bs:.2f} s ({bs / ps:.2f}x plain), peak+ {bm / gb:.2f}Gi "
                  f"({bm / pm:.1%} of plain)")
    harness.finish("logprobs", result, args)


if __name__ == "__main__":
    main()
