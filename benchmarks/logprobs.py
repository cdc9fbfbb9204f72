"""Peak memory and wall time of log-probs + entropy, forward and backward: full logits vs fused head.

    python benchmarks/logprobs.py [--tokens 512 2048 4096] [--repeats 2]

Each (path, N) case runs in a fresh subprocess. Inputs: hidden (N, 896) and the output weight
(151,936, 896), both float32 and requiring grad, labels (N,). The step: log p(label) and entropy
(entropy for logging, as in training), then backward of sum(log_probs * w). "peak +" is the
process's peak RSS minus its RSS once the inputs exist. Both paths must also allocate the weight
gradient (vocab x hidden float32 = 545 MB), which no head implementation can avoid; the last
columns subtract it to show what the logits themselves cost.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

HIDDEN, VOCAB = 896, 151_936


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def run_case(path: str, n: int, repeats: int) -> dict:
    import torch

    from tracesft.fused_logprobs import fused_linear_log_probs
    from tracesft.logprobs import compute_entropy, log_probs_from_logits

    torch.manual_seed(0)
    hidden = (torch.randn(n, HIDDEN) * 0.5).requires_grad_()
    weight = (torch.randn(VOCAB, HIDDEN) * 0.02).requires_grad_()
    labels = torch.randint(0, VOCAB, (n,))
    w = torch.randn(n)
    base = _rss_bytes()
    times = []
    for _ in range(repeats):
        hidden.grad = weight.grad = None
        t0 = time.perf_counter()
        if path == "fused":
            lp, ent = fused_linear_log_probs(hidden, weight, labels, return_entropy=True)
        else:
            logits = hidden @ weight.t()
            lp = log_probs_from_logits(logits[None], labels[None])[0]
            ent = compute_entropy(logits)
        entropy_mean = ent.detach().mean().item()
        (lp * w).sum().backward()
        times.append(time.perf_counter() - t0)
        del lp, ent
        if path != "fused":
            del logits
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"path": path, "n": n, "peak_increase": peak - base, "seconds": min(times), "entropy": entropy_mean}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, nargs="+", default=[512, 2048, 4096])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--case", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case[0], int(args.case[1]), args.repeats)))
        return

    grad_w = VOCAB * HIDDEN * 4
    gb = 2**30
    rows = []
    for n in args.tokens:
        res = {}
        for path in ("plain", "fused"):
            out = subprocess.run(
                [sys.executable, __file__, "--case", path, str(n), "--repeats", str(args.repeats)],
                check=True, capture_output=True, text=True,
            )
            res[path] = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((n, res["plain"], res["fused"]))

    print(f"hidden {HIDDEN}, vocab {VOCAB:,}, float32, CPU, forward+backward with entropy "
          f"(best of {args.repeats}); weight grad = {grad_w / gb:.2f} GiB")
    head = (f"{'N':>5} | {'plain peak+':>11} {'fused peak+':>11} {'ratio':>6} | {'plain s':>7} {'fused s':>7} "
            f"{'ratio':>6} | {'plain-gradW':>11} {'fused-gradW':>11} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for n, p, f in rows:
        pm, fm = p["peak_increase"], f["peak_increase"]
        pl, fl = pm - grad_w, fm - grad_w
        print(f"{n:>5} | {pm / gb:>9.2f}Gi {fm / gb:>9.2f}Gi {fm / pm:>6.1%} | {p['seconds']:>7.2f} "
              f"{f['seconds']:>7.2f} {f['seconds'] / p['seconds']:>5.2f}x | {pl / gb:>9.2f}Gi "
              f"{fl / gb:>9.2f}Gi {fl / pl:>6.1%}")


if __name__ == "__main__":
    main()
