"""Evaluation during training: the configured evaluator on the current policy, records on disk."""

from __future__ import annotations

import logging
from pathlib import Path

from ..data import write_jsonl
from ..evaluate.kl import mean_kl
from ..evaluate.metrics import headline
from . import distributed as dist_

__all__ = ["evaluate_during_training", "by_source"]

log = logging.getLogger(__name__)


def _policy_for_eval(cfg, c, info: dist_.DistInfo):
    """The model to generate with (None on ranks that do not generate).

    The policy itself, except under FSDP, where rank 0 needs its full weights: the vLLM engine
    gathers them itself, one weight at a time, every rank taking part in each gather (unless the
    KL needs a whole model); the Hugging Face backend gets an unsharded copy on rank 0.
    """
    if not (info.enabled and cfg.parallel == "fsdp"):
        return c.model
    if cfg.eval_backend == "vllm" and not cfg.eval_kl:
        if not info.is_main:
            from ..evaluate.vllm import load_policy_into_vllm_instance

            load_policy_into_vllm_instance(c.model, None)  # this rank's part of rank 0's gathers
        return c.model
    full, _ = dist_.full_state_dicts(c.model, c.optimizer)  # collective: every rank takes part
    if not info.is_main:
        return None
    from transformers import AutoModelForCausalLM

    copy = AutoModelForCausalLM.from_config(c.model.config).to(next(c.model.parameters()).device)
    copy.load_state_dict(full, strict=False)
    return copy


def by_source(cfg, records: list[dict], sources: list[str]) -> dict:
    """{source: summary of its records} (records name their prompt by ``prompt_index``)."""
    from ..evaluate.records import summarize_records

    out = {}
    for name in dict.fromkeys(sources):
        mine = [r for r in records if sources[r["prompt_index"]] == name]
        out[name] = summarize_records(mine, pass_k=cfg.pass_k, max_new_tokens=cfg.eval_max_new_tokens)
    return out


def evaluate_during_training(cfg, c, info: dist_.DistInfo, step: int) -> dict | None:
    """Evaluate at ``step`` (every rank calls this; rank 0 does the work); returns the metrics row.

    Writes ``generations/step-NNNNNNNN.jsonl`` and a ``kind: eval`` row to metrics.jsonl; adds
    ``kl_k3`` (mean k3 KL to the starting model over the responses' tokens) when ``eval_kl``.
    """
    policy = _policy_for_eval(cfg, c, info)
    row = None
    if info.is_main:
        result = c.evaluator.evaluate(policy, c.eval_prompts, c.eval_truths)
        write_jsonl(Path(cfg.output_dir) / "generations" / f"step-{step:08d}.jsonl", result["records"])
        row = {"kind": "eval", "step": step, **result["summary"]}
        if len(set(c.eval_sources)) > 1:
            row["by_source"] = by_source(cfg, result["records"], c.eval_sources)
            for name, summary in row["by_source"].items():
                log.info("eval at step %d on %s: %s", step, name, headline(summary))
        if c.ref_model is not None:
            row["kl_k3"] = mean_kl(policy, c.ref_model, c.tokenizer, result["records"], max_length=cfg.max_length,
                                   batch_size=cfg.eval_batch_size)
        c.metrics.write(row)
        log.info("eval at step %d: %s", step, headline(row))
    dist_.barrier(info)
    return row
