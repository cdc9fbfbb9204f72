"""Output a person reads: --version, labelled plot axes (every point of a sweep labelled), progress
bars only on a terminal (a log file gets plain periodic lines)."""

import json
import logging

import pytest
from helpers.train import make_cfg

from tracesft.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("tracesft ")


def _record_figures(monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    seen = []
    real = Figure.savefig

    def savefig(self, *a, **kw):
        seen.append(self)
        return real(self, *a, **kw)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return seen


def test_run_plots_label_both_axes(tmp_path, monkeypatch):
    from tracesft.plots import plot_run

    rows = [{"kind": "train", "step": s, "loss": 1.0 / s, "entropy": 0.5} for s in (1, 2, 3)]
    rows += [{"kind": "eval", "step": 3, "accuracy": 0.5, "format_rate": 1.0, "mean_response_length": 9.0,
              "mean_token_entropy": 0.4}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    figures = _record_figures(monkeypatch)
    assert len(plot_run(tmp_path)) == 3
    axes = [ax for fig in figures for ax in fig.axes]  # loss, eval + failure modes, length, entropy
    assert len(axes) == 5 and all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)


def test_sweep_plot_ticks_are_the_sizes_and_every_point_is_labelled(tmp_path, monkeypatch):
    from tracesft.plots import plot_sweep

    rows = [{"size": s, "filter": f, "examples": n, "accuracy": a} for s, n, a, f in
            [(8, 8, 0.25, "off"), (16, 16, 0.5, "off"), ("full", 40, 0.75, "off"), (8, 8, 0.5, "on"),
             ("full", 40, 1.0, "on")]]
    figures = _record_figures(monkeypatch)
    plot_sweep(rows, tmp_path / "s.png")
    (ax,) = figures[0].axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "16", "40"]
    assert sorted(t.get_text() for t in ax.texts) == sorted(["8: 25%", "16: 50%", "full: 75%", "8: 50%", "full: 100%"])
    assert ax.get_ylabel() and ax.get_xlabel()


def test_training_log_gets_plain_progress_lines_not_a_bar(setup_dir, tmp_path, caplog, capfd):
    from tracesft.train import train

    with caplog.at_level(logging.INFO, logger="tracesft.train.loop"):
        summary = train(make_cfg(setup_dir, tmp_path / "run", progress=True, max_steps=4, eval_data=None))
    assert summary["wall_seconds"] > summary["seconds"] > 0  # the whole run vs the loop, named apart
    steps = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert steps[0].startswith("step 1/4: loss ") and len(steps) == 4
    assert "train:" not in capfd.readouterr().err  # no tqdm bar (stderr is not a terminal here)
