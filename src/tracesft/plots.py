"""Plots of a run directory's metrics.jsonl (matplotlib, Agg backend)."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import DataError, MissingExtraError, UserInputError

__all__ = ["plot_run", "plot_sweep", "plot_iterate"]


def _series(rows, kind, key):
    pts = [(r["step"], r[key]) for r in rows if r.get("kind") == kind and isinstance(r.get(key), (int, float))]
    return [p[0] for p in pts], [p[1] for p in pts]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingExtraError("plots", "plots") from None
    return plt


def require_plots() -> None:
    """Raise :class:`MissingExtraError` now when plotting is unavailable (not after a run's training)."""
    _pyplot()


def plot_sweep(rows: list[dict], out) -> Path:
    """accuracy_vs_size.png of a sweep: held-out accuracy against training examples (log scale),
    one line per filter setting (x: the examples drawn, before filtering)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for setting, label in (("off", "all traces (unfiltered)"), ("on", "correct traces only (filtered)")):
        pts = sorted((r["examples"], r["accuracy"]) for r in rows
                     if r["filter"] == setting and r["accuracy"] is not None)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
            for r in rows:  # every point labelled: its size (full named) and accuracy
                if r["filter"] == setting and r["accuracy"] is not None:
                    ax.annotate(f"{r['size']}: {r['accuracy']:.0%}",
                                (r["examples"], r["accuracy"]), textcoords="offset points", xytext=(4, 6), fontsize=7)
    ax.set_xscale("log")
    ticks = sorted({r["examples"] for r in rows if r["examples"]})
    if ticks:  # the sizes themselves as ticks, in plain numbers (not 10^k with odd minor ticks)
        from matplotlib.ticker import NullFormatter, NullLocator

        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("training examples drawn (before filtering)")
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return Path(out)


def plot_iterate(rows: list[dict], out) -> Path:
    """iterate.png of ``tracesft iterate``: held-out accuracy (and pass@k) and training-question
    coverage (solved by at least one of K samples) against the round (0: the starting model)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    rounds = [r["round"] for r in rows]
    ax.plot(rounds, [r["accuracy"] for r in rows], marker="o", label="held-out accuracy")
    pass_keys = sorted({k for r in rows for k in r if k.startswith("pass@") and k != "pass@1"})
    for k in pass_keys[-1:]:
        ax.plot(rounds, [r.get(k) for r in rows], marker="^", linestyle=":", label=f"held-out {k}")
    cov = [(r["round"], r["coverage"]) for r in rows if r.get("coverage") is not None]
    if cov:
        ax.plot([c[0] for c in cov], [c[1] for c in cov], marker="s", linestyle="--",
                label="coverage (training questions solved)")
    for r in rows:
        ax.annotate(f"{r['accuracy']:.0%}", (r["round"], r["accuracy"]), textcoords="offset points", xytext=(4, -10),
                    fontsize=7)
    ax.set_xticks(rounds)
    ax.set_xlabel("round")
    ax.set_ylabel("share")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return Path(out)


def plot_run(run_dir) -> list[Path]:
    """Write loss.png, eval.png (accuracy, format rate) and length_entropy.png; returns their paths."""
    plt = _pyplot()
    run_dir = Path(run_dir)
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise UserInputError(f"{path} not found: is {run_dir} a tracesft run directory?")
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(path, None, f"not UTF-8 text (byte {e.start})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                raise DataError(path, n, "malformed JSON") from None
            if not isinstance(row, dict):
                raise DataError(path, n, f"expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    written = []

    def figure(name, panels):
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
        for ax, (title, ylabel, curves) in zip(axes[0], panels):
            for label, (xs, ys) in curves:
                if xs:
                    ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, label=label)
            ax.set_title(title)
            ax.set_xlabel("optimizer step")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            if any(c[1][0] for c in curves):
                ax.legend()
        fig.tight_layout()
        out = run_dir / name
        fig.savefig(out, dpi=100)
        plt.close(fig)
        written.append(out)

    figure("loss.png", [("training loss", "loss (per response token)", [("loss", _series(rows, "train", "loss"))])])
    import re

    sampled = sorted({k for r in rows if r.get("kind") == "eval" for k in r if re.fullmatch(r"(pass|maj)@\d+", k)},
                     key=lambda k: (k[0] != "p", int(k.split("@")[1])))  # pass@k by k, then maj@K
    failures = [("hit max_new_tokens", "hit_max_new_tokens_rate"), ("<think> never closed", "unclosed_think_rate"),
                ("no answer", "no_answer_rate"), ("repetition loop", "repetition_rate")]
    figure("eval.png", [
        ("held-out evaluation", "share of responses", [("accuracy (avg@K)", _series(rows, "eval", "accuracy")),
                                 *[(k, _series(rows, "eval", k)) for k in sampled if k != "pass@1"],
                                 ("format rate", _series(rows, "eval", "format_rate"))]),
        ("failure modes", "share of responses", [(label, _series(rows, "eval", k)) for label, k in failures]),
    ])
    figure("length_entropy.png", [
        ("response length (eval)", "tokens", [("mean length", _series(rows, "eval", "mean_response_length"))]),
        ("entropy", "nats per token", [("train response tokens", _series(rows, "train", "entropy")),
                                       ("eval generations", _series(rows, "eval", "mean_token_entropy"))]),
    ])
    return written
