"""Expert iteration: sample K responses per question, grade them, keep up to M distinct correct ones,
fine-tune on them, evaluate; repeat for ``rounds`` rounds.

Layout of the output directory (``OUT``)::

    iterate.yaml            the resolved config (a --resume must match it)
    round-0/eval/           the starting model's evaluation (generations.jsonl, summary.json)
    round-N/samples/        chunk-NNNNN.json: graded samples, written chunk by chunk
    round-N/rationalize/    (rationalize: true) hinted samples of the questions no sample solved
    round-N/samples.jsonl   every sample with its grade and ``why`` (kept, duplicate, wrong_answer, ...)
    round-N/kept.jsonl      the kept responses (question without the hint, response, ground truth)
    round-N/train.jsonl     what the round trains on: kept (accumulate: every round's so far) + mixed-in originals
    round-N/sft/            the round's ``tracesft train`` run directory (final/ is the round's model)
    round-N/eval/           the round's evaluation
    round-N/done-PHASE.json a phase's marker, written atomically when it finished (its seconds, counts)
    iterate.json            the rows so far; summary.json and iterate.png at the end

A kill anywhere leaves whole files only; ``--resume`` skips every phase whose marker exists,
continues sampling from the first missing chunk and training from its newest checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from functools import partial
from pathlib import Path

from ..errors import ConfigError, TrainingError, UserInputError
from ..outputs import json_text, write_json_atomic, write_text_atomic
from .config import IterateConfig, save_iterate_config
from .select import select_kept, solve_counts

__all__ = ["run_iterate", "iterate_table", "RESUME_SAFE"]

log = logging.getLogger(__name__)

#: keys a --resume may change: they change neither a finished round nor how the next ones run
RESUME_SAFE = frozenset({"output_dir", "progress", "threads", "log", "plots", "checkpoint_every", "keep_last",
                         "fused_logprobs", "gradient_checkpointing", "iterate.rounds"})
_PHASES = ("sample", "rationalize", "keep", "train", "eval")


# ---------------------------------------------------------------- the run directory and its contract

def _flat(d: dict) -> dict:
    out = {k: v for k, v in d.items() if k != "iterate"}
    out.update({f"iterate.{k}": v for k, v in (d.get("iterate") or {}).items()})
    return out


def _prepare(config: IterateConfig, out: Path, resume: bool) -> None:
    """Refuse to start over an iteration or to resume nothing; refuse a changed config on resume;
    write iterate.yaml."""
    saved_path = out / "iterate.yaml"
    if not resume and saved_path.is_file():
        raise UserInputError(f"{out} holds an iteration run ({saved_path.name}): continue it with --resume, or choose "
                             "another --out")
    if resume and not saved_path.is_file():
        raise UserInputError(f"--resume {out}: no iteration run there (no iterate.yaml); run without --resume")
    if resume:
        import yaml

        from ..train.config import read_config_file

        try:
            saved = _flat(read_config_file(saved_path))
        except (UserInputError, yaml.YAMLError) as e:
            raise UserInputError(f"{saved_path}: not a readable config ({e})") from None
        new = _flat(config.to_dict())
        defaults = _defaults()  # a key the saved config lacks (added since) had its default
        changed = {k: (saved.get(k, defaults.get(k)), new.get(k)) for k in sorted(set(saved) | set(new))
                   if saved.get(k, defaults.get(k)) != new.get(k) and k not in RESUME_SAFE}
        if changed:
            listed = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changed.items())
            raise UserInputError(f"--resume {out}: {listed} would not continue the same run; start a new run in "
                                 "another --out (only iterate.rounds and logging/checkpointing keys may change)")
    save_iterate_config(config, saved_path)


def _defaults() -> dict:
    """Every key's default, flat (``iterate.KEY`` for the loop's)."""
    from ..train.config import TrainConfig
    from .config import IterateSettings

    def of(cls):
        return {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(cls)
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}

    return _flat({**of(TrainConfig), "iterate": of(IterateSettings)})


def _phase(round_dir: Path, name: str, run) -> dict | None:
    """The phase's marker record: read when it finished before, else ``run()`` (None: stopped by a
    signal, no marker) and the marker written atomically with its wall seconds."""
    marker = round_dir / f"done-{name}.json"
    if marker.is_file():
        return json.loads(marker.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    info = run()
    if info is None:
        return None
    info.setdefault("seconds", time.perf_counter() - t0)
    round_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, info)
    return info


# ---------------------------------------------------------------- data

def _load_questions(cfg):
    """(training questions, held-out examples, the source's traces): train_data's records, every one
    with a ground truth; test_size and subset as in ``tracesft train``."""
    from ..data import load_examples
    from ..data.selection import split_held_out, take_subset

    examples = load_examples(cfg.train_data, split=cfg.train_split, truth_from_boxed=cfg.truth_from_boxed)
    missing = [e for e in examples if e.ground_truth is None]
    if missing:
        raise UserInputError(f"{cfg.train_data}: {len(missing)} of {len(examples)} questions have no ground truth "
                             f"(first: {missing[0].meta.get('source')}); iterate grades samples against it: add "
                             "ground truths, or leave those questions out")
    questions, held_out = split_held_out(examples, cfg.test_size, cfg.seed)
    questions = take_subset(questions, cfg.subset, cfg.seed)
    if not questions:
        raise UserInputError(f"{cfg.train_data}: no questions")
    return questions, held_out


def _resolve_format(config: IterateConfig, questions):
    from ..data.formats import resolve_format

    cfg = config.train
    fmt = resolve_format(cfg.template, cfg.reward, questions, what=cfg.train_data)
    return dataclasses.replace(cfg, template=fmt.template, reward=fmt.reward)


def _check(config: IterateConfig) -> None:
    cfg = config.train
    if not cfg.has_eval:
        raise ConfigError("iterate needs an evaluation set for its per-round accuracy: set eval_data or test_size")
    if cfg.to_r1_zero:
        raise ConfigError("to_r1_zero: not supported by iterate (samples are in the model's own format); convert "
                          "train_data first with tracesft filter --to-r1-zero")


# ---------------------------------------------------------------- generation

def _load_policy(cfg, model_path: str):
    """(model or None, tokenizer): HF generates on the loaded model; an engine loads it itself."""
    from ..models.loading import load_model_and_tokenizer, load_tokenizer

    if cfg.eval_backend == "hf":
        return load_model_and_tokenizer(model_path, device=cfg.device, dtype=cfg.dtype,
                                        trust_remote_code=cfg.trust_remote_code,
                                        tokenizer_path=cfg.tokenizer if model_path == cfg.model else None)
    return None, load_tokenizer(cfg.tokenizer if model_path == cfg.model and cfg.tokenizer else model_path,
                                trust_remote_code=cfg.trust_remote_code)


def _chunk_seed(seed: int, round_n: int, chunk: int, salt: int = 0) -> int:
    return (seed * 1_000_003 + round_n * 10_007 + chunk * 101 + salt) % (2**63 - 1)


def _sample(config: IterateConfig, cfg, model_path: str, round_n: int, examples: list, directory: Path,
            salt: int = 0, indices: list[int] | None = None) -> dict:
    """Sample K responses for each example (chunk by chunk, each chunk saved whole with its seconds);
    returns the phase's seconds of generation and of grading (summed over every chunk, also those
    written before a kill). A record's ``prompt_index`` is its question's index (``indices[i]`` for
    the i-th example when given), ``question`` the text its prompt was rendered from."""
    from ..data import load_template, render_prompts
    from ..train.builders import build_evaluator_for

    it = config.iterate
    size = it.chunk_size
    chunks = [(c, s) for c, s in enumerate(range(0, len(examples), size))]
    todo = [(c, s) for c, s in chunks if not (directory / f"chunk-{c:05d}.json").is_file()]
    if todo:
        scfg = dataclasses.replace(cfg, model=model_path, eval_temperature=it.temperature, eval_top_p=it.top_p,
                                   eval_samples=it.samples_per_prompt, eval_pass_k=None,
                                   eval_max_new_tokens=config.sample_max_new_tokens)
        model, tok = _load_policy(cfg, model_path)
        prompts = render_prompts(load_template(cfg.template), examples, tok, cfg.system_prompt)
        truths = [e.ground_truth for e in examples]
        evaluator = build_evaluator_for(scfg, model, tok, cfg.device)
        directory.mkdir(parents=True, exist_ok=True)
        try:
            for c, s in todo:
                evaluator.sampling = dataclasses.replace(evaluator.sampling,
                                                         seed=_chunk_seed(cfg.seed, round_n, c, salt))
                t0 = time.perf_counter()
                result = evaluator.evaluate(None, prompts[s:s + size], truths[s:s + size])
                total = time.perf_counter() - t0
                for r in result["records"]:
                    i = r["prompt_index"] + s
                    r["prompt_index"] = indices[i] if indices is not None else i
                    r["question"] = examples[i].prompt
                gen = result["summary"].get("generation_seconds") or 0.0
                write_text_atomic(directory / f"chunk-{c:05d}.json",
                                  json_text({"generation_seconds": gen, "grading_seconds": max(0.0, total - gen),
                                             "records": result["records"]}) + "\n")
                log.info("round %d: sampled questions %d-%d of %d", round_n, s + 1, min(s + size, len(examples)),
                         len(examples))
        finally:
            evaluator.close()
            del model
    gen = grading = 0.0
    for c, _ in chunks:
        data = json.loads((directory / f"chunk-{c:05d}.json").read_text(encoding="utf-8"))
        gen += data["generation_seconds"]
        grading += data["grading_seconds"]
    return {"sampling_seconds": gen, "grading_seconds": grading, "chunks": len(chunks)}


def _records(directory: Path) -> list[dict]:
    records = []
    for path in sorted(directory.glob("chunk-*.json")):
        records += json.loads(path.read_text(encoding="utf-8"))["records"]
    return records


def hinted_question(template: str, question: str, answer) -> str:
    """The question with its answer as a hint (STaR's rationalisation prompt); one pass, so braces in
    the question are left as they are."""
    import re

    truth = str(answer[0] if isinstance(answer, list) else answer)
    return re.sub(r"\{(question|answer)\}", lambda m: question if m.group(1) == "question" else truth, template)


def _rationalize(config: IterateConfig, cfg, model_path: str, round_n: int, questions: list, round_dir: Path) -> dict:
    """STaR: the questions no sample solved, sampled again with the answer as a hint."""
    from ..data import Example

    unsolved = _unsolved(_records(round_dir / "samples"))
    hint = config.iterate.hint_template
    hinted = [Example(hinted_question(hint, questions[q].prompt, questions[q].ground_truth), None,
                      questions[q].ground_truth) for q in unsolved]
    info = _sample(config, cfg, model_path, round_n, hinted, round_dir / "rationalize", salt=1, indices=unsolved) \
        if hinted else {}
    return {"questions": len(unsolved), **info}


def _unsolved(records: list[dict]) -> list[int]:
    return [q for q, (c, _) in solve_counts(records).items() if c == 0]


# ---------------------------------------------------------------- keep

def _keep(config: IterateConfig, round_n: int, questions: list, originals: list, round_dir: Path) -> dict:
    it, cfg = config.iterate, config.train
    records = _records(round_dir / "samples")
    kept = select_kept(records, it.keep_per_prompt, it.prefer, seed=f"{cfg.seed}:{round_n}")
    hinted = _records(round_dir / "rationalize") if it.rationalize else []
    for r in hinted:
        r["hinted"] = True
    kept_hinted = select_kept(hinted, it.keep_per_prompt, it.prefer, seed=f"{cfg.seed}:{round_n}:hint")
    counts = solve_counts(records)
    solved = sum(c > 0 for c, _ in counts.values())
    from ..data import write_jsonl

    write_jsonl(round_dir / "samples.jsonl", records + hinted)

    def trace(r, origin):
        q = questions[r["prompt_index"]]
        return {"prompt": q.prompt, "response": r["response"], "ground_truth": q.ground_truth, "round": round_n,
                "question_index": r["prompt_index"], "sample_index": r["sample_index"], "origin": origin,
                "source": q.meta.get("source")}

    traces = [trace(r, "sample") for r in kept] + [trace(r, "rationalized") for r in kept_hinted]
    if not traces:
        _print_solve_rates(round_n, counts, it.samples_per_prompt)
        raise TrainingError(f"round {round_n} kept nothing: no sample of the {len(questions)} questions is correct "
                            f"({len(records)} samples; see {round_dir / 'samples.jsonl'} for each one's why): "
                            "more samples_per_prompt, another temperature or a stronger starting model may help")
    write_jsonl(round_dir / "kept.jsonl", traces)
    trained = _accumulated(round_dir.parent, round_n, traces) if it.accumulate else traces
    mixed = []
    if it.mix_original and originals:
        n = round(it.mix_original * len(originals))
        chosen = sorted(random.Random(f"mix:{cfg.seed}:{round_n}").sample(range(len(originals)), n))
        mixed = [{"prompt": originals[i].prompt, "response": originals[i].response,
                  "ground_truth": originals[i].ground_truth, "origin": "original",
                  "source": originals[i].meta.get("source")} for i in chosen]
    write_jsonl(round_dir / "train.jsonl", trained + mixed)
    n_samples = len(records)
    return {"questions": len(questions), "samples": n_samples, "correct_samples": sum(c for c, _ in counts.values()),
            "solved": solved, "coverage": solved / len(questions),
            "avg@K": sum(c for c, _ in counts.values()) / max(1, n_samples),
            "kept": len(kept), "kept_rationalized": len(kept_hinted),
            "rationalize_questions": len({r["prompt_index"] for r in hinted}), "mixed_original": len(mixed),
            "accumulated": len(trained), "train_examples": len(trained) + len(mixed)}


def _accumulated(out: Path, round_n: int, traces: list[dict]) -> list[dict]:
    """``accumulate``: the traces kept in rounds 1 .. round_n (earlier rounds' kept.jsonl, then
    ``traces``), a question's response kept once (whitespace collapsed, as within a round)."""
    from .select import dedup_key

    earlier = [json.loads(line) for n in range(1, round_n)
               for line in (out / f"round-{n}" / "kept.jsonl").read_text(encoding="utf-8").splitlines()]
    seen, unique = set(), []
    for t in earlier + traces:
        key = (t["question_index"], dedup_key(t["response"]))
        if key not in seen:
            seen.add(key)
            unique.append(t)
    return unique


def _print_solve_rates(round_n: int, counts: dict, k: int, limit: int = 20) -> None:
    hist = [0] * (k + 1)
    for c, _ in counts.values():
        hist[min(c, k)] += 1
    print(f"round {round_n}: questions by correct samples (of {k}): "
          + ", ".join(f"{c}: {n}" for c, n in enumerate(hist)), flush=True)
    shown = list(counts.items())[:limit]
    print("  per question (index: correct/samples): " + ", ".join(f"{q}: {c}/{n}" for q, (c, n) in shown)
          + (" ..." if len(counts) > limit else ""), flush=True)


# ---------------------------------------------------------------- train and evaluate

def _sft_config(cfg, model_path: str, round_dir: Path):
    return dataclasses.replace(cfg, model=model_path, train_data=str(round_dir / "train.jsonl"), train_split=None,
                               eval_data=None, eval_split=None, test_size=0.0, subset=None, truth_from_boxed=False,
                               output_dir=str(round_dir / "sft"), keep_best=None, early_stop_patience=None,
                               eval_kl=False, eval_before=False, eval_every=0,
                               tokenizer=cfg.tokenizer if model_path == cfg.model else None).validate()


def _train(cfg, model_path: str, round_dir: Path) -> dict | None:
    from ..train import checkpoint as ckpt
    from ..train import train

    scfg = _sft_config(cfg, model_path, round_dir)
    summary_path = round_dir / "sft" / "summary.json"
    if summary_path.is_file():  # finished, killed before its marker
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    else:
        summary = train(scfg, resume=ckpt.latest_checkpoint(scfg.output_dir) is not None)
        if "interrupted" in summary:
            return None
    return {"steps": summary["steps"], "n_train": summary.get("n_train"), "final_loss": summary.get("final_loss"),
            "train_seconds": summary.get("seconds")}


def _evaluate(cfg, model_path: str, held_out: list, eval_dir: Path) -> dict:
    from ..data import write_jsonl
    from ..train.builders import build_eval_set, build_evaluator_for

    model, tok = _load_policy(cfg, model_path)
    ecfg = dataclasses.replace(cfg, model=model_path)
    prompts, truths = build_eval_set(ecfg, held_out, tok)
    evaluator = build_evaluator_for(ecfg, model, tok, cfg.device)
    try:
        result = evaluator.evaluate(None, prompts, truths)
    finally:
        evaluator.close()
    eval_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(eval_dir / "generations.jsonl", result["records"])
    summary = {"model": model_path, **result["summary"]}
    write_json_atomic(eval_dir / "summary.json", summary)
    return {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}


# ---------------------------------------------------------------- the loop

def _row(round_n: int, phases: dict) -> dict:
    keep, train, ev = phases.get("keep") or {}, phases.get("train") or {}, phases["eval"]
    sample, star = phases.get("sample") or {}, phases.get("rationalize") or {}
    k_eval = ev.get("samples_per_prompt", 1)
    row = {"round": round_n, "accuracy": ev.get("accuracy"), f"avg@{k_eval}": ev.get(f"avg@{k_eval}"),
           **{k: v for k, v in ev.items() if k.startswith("pass@") or k.startswith("maj@")},
           "format_rate": ev.get("format_rate"), "eval_n": ev.get("n_examples")}
    if keep:
        row.update({k: keep[k] for k in ("questions", "samples", "solved", "coverage", "avg@K", "kept",
                                          "kept_rationalized", "mixed_original", "train_examples")})
        row["train_steps"] = train.get("steps")
    row["seconds"] = {"sampling": sample.get("sampling_seconds"), "grading": sample.get("grading_seconds"),
                      "rationalize": star.get("seconds") if star else None,
                      "training": train.get("seconds") if train else None, "eval": ev.get("seconds")}
    return row


def run_iterate(config: IterateConfig, out: str | None = None, resume: bool = False, quiet: bool = False) -> dict:
    """Run (or, ``resume``, continue) the loop into ``out`` (default: the config's ``output_dir``).

    Returns the summary (also OUT/summary.json); ``{"interrupted": ...}`` when a signal stopped a
    round's training (run again with ``resume``). Raises :class:`TrainingError` when a round keeps
    nothing (after printing the per-question solve rates).
    """
    from ..outputs import check_output, claim_dir
    from ..train.run_dir import RunLock
    from ..train.threads import apply_threads

    t_wall = time.perf_counter()
    _check(config)
    apply_threads(config.train.threads)  # sampling and evaluation too, not only each round's training
    out_dir = Path(out or config.train.output_dir)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, output_dir=str(out_dir)))
    check_output(out_dir, [config.train.model, config.train.train_data, config.train.eval_data], directory=True)
    claim_dir(out_dir, "iterate")
    lock = RunLock(out_dir)
    try:
        _prepare(config, out_dir, resume)
        return _loop(config, out_dir, quiet, t_wall)
    finally:
        lock.release()


def _loop(config: IterateConfig, out: Path, quiet: bool, t_wall: float) -> dict:
    it = config.iterate
    questions, held_out = _load_questions(config.train)
    cfg = _resolve_format(config, questions)
    originals = [q for q in questions if q.response is not None]
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    rows: list[dict] = []

    def progress(status: str) -> None:
        write_json_atomic(out / "iterate.json", {"status": status, "rounds": rows})

    base = cfg.model
    r0 = out / "round-0"
    say(f"iterate: round 0: evaluating the starting model {base}")
    ev = _phase(r0, "eval", partial(_evaluate, cfg, base, held_out, r0 / "eval"))
    rows.append(_row(0, {"eval": ev}))
    say(iterate_table(rows))
    progress("running")
    for n in range(1, it.rounds + 1):
        rd = out / f"round-{n}"
        previous = out / f"round-{n - 1}" / "sft" / "final"
        start = base if it.init == "base" or n == 1 else str(previous)
        phases = {}
        say(f"iterate: round {n}: sampling {it.samples_per_prompt} responses for each of {len(questions)} questions "
            f"from {start}")
        phases["sample"] = _phase(rd, "sample", partial(_sample, config, cfg, start, n, questions, rd / "samples"))
        if it.rationalize:
            phases["rationalize"] = _phase(rd, "rationalize", partial(_rationalize, config, cfg, start, n, questions,
                                                                      rd))
        phases["keep"] = _phase(rd, "keep", partial(_keep, config, n, questions, originals, rd))
        k = phases["keep"]
        say(f"iterate: round {n}: {k['solved']} of {k['questions']} questions solved at least once "
            f"({k['coverage']:.1%}); kept {k['kept']}" + (f" + {k['kept_rationalized']} rationalized"
                                                          if it.rationalize else "")
            + (f", + {k['mixed_original']} original traces" if k["mixed_original"] else "")
            + f"; fine-tuning {start}")
        phases["train"] = _phase(rd, "train", partial(_train, cfg, start, rd))
        if phases["train"] is None:
            progress("stopped")
            say(f"iterate stopped in round {n}'s training; continue with: tracesft iterate --resume --out {out}")
            return {"interrupted": True, "round": n, "out": str(out)}
        phases["eval"] = _phase(rd, "eval", partial(_evaluate, cfg, str(rd / "sft" / "final"), held_out, rd / "eval"))
        rows.append(_row(n, phases))
        say(iterate_table(rows))
        progress("running")
    progress("finished")
    summary = _summary(config, out, rows, time.perf_counter() - t_wall)
    if cfg.plots:
        from ..plots import plot_iterate

        plot_iterate(rows, out / "iterate.png")
    return summary


def _summary(config: IterateConfig, out: Path, rows: list[dict], wall: float) -> dict:
    summary = {"rounds": len(rows) - 1, "accuracy_per_round": [r["accuracy"] for r in rows],
               "coverage_per_round": [r.get("coverage") for r in rows[1:]],
               "kept_per_round": [r.get("kept") for r in rows[1:]],
               "kept_rationalized_per_round": [r.get("kept_rationalized") for r in rows[1:]],
               "final_model": str(out / f"round-{len(rows) - 1}" / "sft" / "final") if len(rows) > 1 else None,
               "table": rows, "wall_seconds_this_run": wall}
    write_json_atomic(out / "summary.json", summary)
    return summary


def iterate_table(rows: list[dict]) -> str:
    """The per-round table: coverage, kept traces, eval accuracy and pass@k, seconds per phase."""
    def pct(v):
        return "-" if v is None else f"{v:.1%}"

    def sec(v):
        return "-" if v is None else f"{v:.0f}"

    pass_keys = sorted({k for r in rows for k in r if k.startswith("pass@")}, key=lambda k: int(k.split("@")[1]))
    head = (f"{'round':>5} {'coverage':>9} {'kept':>6} {'+star':>6} {'steps':>6} {'accuracy':>9} "
            + " ".join(f"{k:>8}" for k in pass_keys)
            + f" {'sample s':>9} {'grade s':>8} {'train s':>8} {'eval s':>7}")
    lines = [head]
    for r in rows:
        s = r["seconds"]
        lines.append(f"{r['round']:>5} {pct(r.get('coverage')):>9} {r.get('kept', '-')!s:>6} "
                     f"{(r.get('kept_rationalized') or '-') if 'kept' in r else '-'!s:>6} "
                     f"{r.get('train_steps', '-')!s:>6} {pct(r['accuracy']):>9} "
                     + " ".join(f"{pct(r.get(k)):>8}" for k in pass_keys)
                     + f" {sec(s['sampling']):>9} {sec(s['grading']):>8} {sec(s['training']):>8} {sec(s['eval']):>7}")
    return "\n".join(lines)
