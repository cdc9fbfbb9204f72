"""The best evaluated model (``RUN/best/``) and early stopping, both watching one summary metric.

``keep_best: METRIC`` writes the model of every evaluation that improves METRIC (strictly: a tie
keeps the earlier model) as ``RUN/best/`` -- a whole Hugging Face directory, written into a
temporary directory and renamed into place, with ``best.json`` (step, metric, value) inside.
``early_stop_patience: N`` ends the run after N evaluations in a row without improvement.

On resume the tracker is rebuilt from the ``kind: eval`` rows of metrics.jsonl up to the
checkpoint (the rows after it are dropped and will be logged again), so the count of evaluations
without improvement carries over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BEST_DIR", "BestTracker", "write_best"]

BEST_DIR = "best"


@dataclass
class BestTracker:
    key: str | None  #: the evaluation summary key watched (None: nothing)
    keep: bool  #: write best/
    patience: int | None  #: evaluations without improvement before stopping (None: never)
    value: float | None = None
    step: int | None = None
    since: int = 0  #: evaluations since the last improvement

    @classmethod
    def for_config(cls, cfg, rows=(), run_dir=None) -> BestTracker:
        """The tracker of ``cfg`` (keep_best, early_stop_patience), replaying earlier eval ``rows``.

        With keep_best, the best value replayed must be the one ``RUN/best/`` holds (its best.json,
        same metric): when it is not (keep_best turned on or changed at a resume, best/ missing), the
        replay keeps the count of evaluations without improvement but not the value, so the next
        evaluation writes best/ and summary.json never names a best/ that is not there."""
        tracker = cls(cfg.best_metric_key(), cfg.keep_best is not None, cfg.early_stop_patience)
        for row in rows:
            if row.get("kind") == "eval":
                tracker.observe(row)
        if tracker.keep and tracker.value is not None and run_dir is not None:
            saved = _saved_best(Path(run_dir))
            if saved is None or saved.get("metric") != tracker.key or saved.get("step") != tracker.step:
                tracker.value = tracker.step = None
        return tracker

    def observe(self, row: dict | None) -> bool:
        """Count one evaluation; True when it improves on every earlier one."""
        if self.key is None or row is None:
            return False
        value = row.get(self.key)
        if value is not None and (self.value is None or value > self.value):
            self.value, self.step, self.since = value, row["step"], 0
            return True
        self.since += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.since >= self.patience

    def record(self) -> dict:
        """What summary.json says of the best model."""
        return {"metric": self.key, "value": self.value, "step": self.step}

    def stop_line(self, step: int) -> str:
        return (f"early stop at step {step}: {self.key} did not improve in {self.since} evaluations "
                f"(best {self.value:.4g} at step {self.step}); to go on: --resume with a larger early_stop_patience")


def _saved_best(run_dir: Path) -> dict | None:
    try:
        saved = json.loads((run_dir / BEST_DIR / "best.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def write_best(run_dir: Path, model, state: dict, tokenizer, record: dict) -> Path:
    """Write ``RUN/best/`` whole (:func:`tracesft.outputs.atomic_dir`: a temporary directory, fsynced,
    renamed over the old one; what a kill leaves is tidied by the run's ``clean_stale`` at its next start)."""
    from ..models.lora import save_final
    from ..outputs import atomic_dir, json_text

    final = Path(run_dir) / BEST_DIR
    with atomic_dir(final) as tmp:
        save_final(model, state, tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "best.json").write_text(json_text(record, indent=2) + "\n", encoding="utf-8")  # inside the temp dir
    return final
