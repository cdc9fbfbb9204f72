"""``tracesft sweep``: one training run per (training-set size, filter) cell, then a table and a plot.

Every cell uses the same config, seed and evaluation set (``eval_data``, or the ``test_size``
split, which is taken before the subset); only ``subset`` and ``filter_correct`` change. Cells live
in ``OUT/filtered-N`` and ``OUT/unfiltered-N``. Running the same sweep again skips finished cells
(their ``summary.json``) and resumes an interrupted one from its newest checkpoint; a cell directory
written with a different config is an error, never overwritten. A finished cell is trusted only
when its ``config.yaml`` holds every key of this sweep's config with the same value (where the
sweep directory is, ``output_dir``, does not count: a moved sweep goes on); a ``summary.json``
without that config, or one that is not a summary, is refused in one line, never put in the table.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserInputError
from ..outputs import write_json_atomic
from .config import ConfigError, TrainConfig, load_config

__all__ = ["Cell", "parse_sizes", "FILTER_MODES", "run_sweep", "sweep_table"]

log = logging.getLogger(__name__)

FILTER_MODES = {"both": (False, True), "on": (True,), "off": (False,)}
_IGNORED_KEYS = ("progress", "output_dir")  # may differ between a run and its resumption (or a moved sweep)
_SUMMARY_KEYS = ("n_train_examples", "n_train", "steps", "seconds")  # what a row reads


@dataclass(frozen=True)
class Cell:
    size: int | None  #: None: the whole training set
    filtered: bool

    @property
    def name(self) -> str:
        return f"{'filtered' if self.filtered else 'unfiltered'}-{self.size or 'full'}"


def parse_sizes(text: str) -> list[int | None]:
    """``"128,256,full"`` -> ``[128, 256, None]``; one line naming the bad item otherwise."""
    sizes: list[int | None] = []
    for item in (s.strip() for s in text.split(",")):
        if item == "full":
            sizes.append(None)
        elif item.isdigit() and int(item) > 0:
            sizes.append(int(item))
        else:
            raise UserInputError(f"--sizes: {item!r} is not a positive whole number or 'full'")
    if not sizes or len(set(sizes)) != len(sizes):
        raise UserInputError(f"--sizes: give distinct sizes, got {text!r}")
    return sorted(sizes, key=lambda s: float("inf") if s is None else s)


def _check_same_config(cfg: TrainConfig) -> None:
    """Every key counts here (evaluation settings change a cell's numbers), unlike a resume; a key
    the cell's config lacks, or one it has that this config does not, is a difference too."""
    from .run_dir import config_changes, read_saved_config

    run_dir = Path(cfg.output_dir)
    saved = read_saved_config(run_dir)
    if saved is None:
        if run_dir.is_dir() and any(p.name not in (".tracesft-run", ".lock") for p in run_dir.iterdir()):
            raise UserInputError(f"{run_dir}: holds files but no config.yaml, so how it was trained cannot be "
                                 "checked; remove that directory or use another --out")
        return
    for key, (old, new) in config_changes(cfg, run_dir, _IGNORED_KEYS, saved).items():
        raise UserInputError(f"{cfg.output_dir} was trained with {key}={old!r}, this sweep has "
                             f"{key}={new!r}: use another --out, or remove that directory")
    wanted = set(cfg.to_dict()) - set(_IGNORED_KEYS)
    missing, extra = sorted(wanted - set(saved)), sorted(set(saved) - set(cfg.to_dict()))
    if missing or extra:
        what = f"lacks {', '.join(missing[:5])}" if missing else f"has unknown keys {', '.join(extra[:5])}"
        raise UserInputError(f"{run_dir / 'config.yaml'}: {what}, so it is not this sweep's config: use another "
                             "--out, or remove that directory")


def _read_summary(path: Path) -> dict:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise UserInputError(f"{path}: not a readable summary ({type(e).__name__}); remove that cell's "
                             "directory to train it again") from None
    if not isinstance(summary, dict) or not all(isinstance(summary.get(k), (int, float)) for k in _SUMMARY_KEYS):
        raise UserInputError(f"{path}: not a training summary (it lacks {', '.join(_SUMMARY_KEYS)}); remove that "
                             "cell's directory to train it again")
    return summary


def _run_cell(cfg: TrainConfig) -> dict | None:
    """The cell's summary: read when it finished before, else trained (or resumed); None if interrupted."""
    _check_same_config(cfg)
    summary_path = Path(cfg.output_dir) / "summary.json"
    if summary_path.is_file():
        log.info("%s: finished before, skipped", cfg.output_dir)
        return _read_summary(summary_path)
    from . import checkpoint as ckpt
    from .loop import train

    resume = ckpt.latest_checkpoint(cfg.output_dir) is not None
    result = train(cfg, resume=resume)
    return None if "interrupted" in result else result


def _row(cell: Cell, cfg: TrainConfig, summary: dict) -> dict:
    return {"size": cell.size or "full", "filter": "on" if cell.filtered else "off",
            "examples": summary["n_train_examples"], "kept": summary["n_train"], "steps": summary["steps"],
            "accuracy": summary.get("eval_accuracy"), "format_rate": summary.get("eval_format_rate"),
            "mean_response_length": summary.get("eval_mean_response_length"), "train_seconds": summary["seconds"],
            "run_dir": cfg.output_dir}


def run_sweep(config_path: str | None, overrides: list[str], sizes: list[int | None], filter_mode: str,
              out_dir: str) -> list[dict] | None:
    """Train every cell (filter settings x sizes) under ``out_dir``; write ``sweep.json`` and
    ``accuracy_vs_size.png``. Returns the rows, or None when a signal stopped a cell (run again to resume)."""
    if filter_mode not in FILTER_MODES:
        raise UserInputError(f"--filter: {filter_mode!r} is not one of {', '.join(FILTER_MODES)}")
    from ..outputs import claim_dir

    out = claim_dir(out_dir, "sweep")
    rows = []
    for filtered in FILTER_MODES[filter_mode]:
        for size in sizes:
            cell = Cell(size, filtered)
            # the starting model's baseline is the same in every cell: evaluated in the first one only
            baseline = [] if (filtered, size) == (FILTER_MODES[filter_mode][0], sizes[0]) else ["eval_before=false"]
            cfg = load_config(config_path, [*overrides, f"subset={size or 'full'}", f"filter_correct={filtered}",
                                            f"output_dir={out / cell.name}", *baseline])
            if not (cfg.eval_data or cfg.test_size):
                raise ConfigError("a sweep needs an evaluation set: set eval_data or test_size")
            print(f"sweep: cell {cell.name}", flush=True)
            summary = _run_cell(cfg)
            if summary is None:
                print(f"sweep stopped in cell {cell.name}; run the same command again to resume it", flush=True)
                return None
            rows.append(_row(cell, cfg, summary))
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "sweep.json", rows)
    from ..plots import plot_sweep

    plot_sweep(rows, out / "accuracy_vs_size.png")
    return rows


def sweep_table(rows: list[dict]) -> str:
    """The sweep's rows as a text table."""
    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    lines = [f"{'size':>6} {'filter':>6} {'examples':>8} {'kept':>6} {'steps':>6} {'accuracy':>8} "
             f"{'format':>7} {'resp len':>8} {'train s':>8}"]
    for r in rows:
        lines.append(f"{r['size']!s:>6} {r['filter']:>6} {r['examples']:>8} {r['kept']:>6} {r['steps']:>6} "
                     f"{fmt(r['accuracy'], '.1%'):>8} {fmt(r['format_rate'], '.1%'):>7} "
                     f"{fmt(r['mean_response_length'], '.1f'):>8} {r['train_seconds']:>8.0f}")
    return "\n".join(lines)
