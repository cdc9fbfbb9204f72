"""Small builders that turn a :class:`TrainConfig` into the parts the training loop uses.

Each builder is a plain function of the config (and what it needs); :func:`build_components` calls
them in order. To change a part, change its builder (or its registry: optimizers in ``optim``,
schedules in ``schedule``, normalisations in ``normalization``, evaluators in ``tracesft.evaluate``).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data import CHAT, filter_correct, load_examples, load_template, render_prompts, render_responses, stop_token_ids
from ..data.formats import AUTO, convert_to_r1_zero, format_hint, resolve_format
from ..data.mixture import SOURCE_KEY, mix
from ..data.selection import split_held_out, take_subset
from ..errors import ConfigError, UserInputError
from ..evaluate import Sampling, build_evaluator
from ..grading import get_reward
from ..models.heads import tied_parameter_names
from ..models.loading import load_model_and_tokenizer
from ..models.lora import LoraSpec, apply_lora
from ..tokenization import _pad_id
from . import checkpoint as ckpt
from . import distributed as dist_
from .batching import TrainData, build_segment_train_set, build_train_set
from .metrics import MetricsLog
from .optim import build_optimizer
from .schedule import build_scheduler

__all__ = ["Components", "build_components", "build_model", "select_examples", "resolve_run_format", "build_train_data",
           "resolve_overlength",
           "build_eval_set", "build_eval_sources", "build_evaluator_for", "build_metrics"]

log = logging.getLogger(__name__)


@dataclass
class Components:
    """Everything the loop needs; built once per run."""

    model: torch.nn.Module  #: the unwrapped model (saving, evaluating)
    module: torch.nn.Module  #: what the step calls: LogProbModule, possibly in DDP/FSDP
    tokenizer: object
    optimizer: torch.optim.Optimizer
    scheduler: object
    data: TrainData
    total_steps: int
    metrics: MetricsLog
    evaluator: object | None = None  #: None when there is no eval_data (or on ranks other than 0)
    eval_prompts: list = field(default_factory=list)
    eval_truths: list = field(default_factory=list)
    eval_sources: list = field(default_factory=list)  #: the eval_data source of each prompt
    ref_model: torch.nn.Module | None = None  #: the starting model, for eval_kl
    tied: set = field(default_factory=set)  #: state-dict names saved once (e.g. a tied lm_head)
    report: dict = field(default_factory=dict)  #: data counts for the summary


def check_precision_supported(precision: str, device: str) -> None:
    """bfloat16 on a CUDA device that lacks it (before Ampere) is refused in one line; CPUs all run it."""
    if precision != "fp32" and device.startswith("cuda") and torch.cuda.is_available() \
            and not torch.cuda.is_bf16_supported():
        name = torch.cuda.get_device_name(torch.device(device))
        raise ConfigError(f"precision {precision}: {device} ({name}) has no bfloat16 support; set precision: fp32")


def build_model(cfg, device: str):
    """(model, tokenizer) in training mode, with gradient checkpointing and LoRA adapters when asked."""
    check_precision_supported(cfg.precision, device)
    model, tokenizer = load_model_and_tokenizer(cfg.model, device=device, dtype=cfg.dtype,
                                                trust_remote_code=cfg.trust_remote_code, tokenizer_path=cfg.tokenizer)
    positions = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    if positions is not None and cfg.max_length > positions:
        raise UserInputError(f"max_length={cfg.max_length} exceeds the {positions} positions of the model {cfg.model}; "
                             f"set max_length <= {positions}")
    if cfg.gradient_checkpointing:
        model.config.use_cache = False
        model.gradient_checkpointing_enable()
    if cfg.lora is not None:
        model = apply_lora(model, LoraSpec.from_config(cfg.lora), cfg.gradient_checkpointing)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        log.info("lora: %d trainable parameters of %d (%.2f%%)", trainable, total, 100 * trainable / total)
    return model.train(), tokenizer


def select_examples(cfg) -> tuple[list, list, dict]:
    """(training examples, held-out examples, report): the ``test_size`` split of train_data is taken
    first (so every subset is evaluated on the same examples), then, for a list of sources, the
    mixture (:mod:`tracesft.data.mixture`), then the seeded ``subset``."""
    sources = cfg.train_sources()
    examples = []
    for k, src in enumerate(sources):
        loaded = load_examples(src.path, split=src.split, require_response=True, truth_from_boxed=cfg.truth_from_boxed)
        if len(sources) > 1:
            for e in loaded:
                e.meta[SOURCE_KEY] = k
        examples += loaded
    train_examples, held_out = split_held_out(examples, cfg.test_size, cfg.seed)
    if len(sources) > 1:
        train_examples = mix(train_examples, sources, cfg.seed)
    train_examples = take_subset(train_examples, cfg.subset, cfg.seed)
    unanswered = next((e for e in held_out if e.ground_truth is None), None)
    if unanswered is not None:
        raise UserInputError(f"{unanswered.meta.get('source')}: held out for evaluation (test_size) but has no "
                             "ground truth")
    report = {"n_train_file": len(examples), "n_held_out": len(held_out), "subset": cfg.subset or "full",
              "n_train_examples": len(train_examples)}
    if len(sources) > 1:
        def count(items, k):
            return sum(e.meta.get(SOURCE_KEY) == k for e in items)

        report["mixture"] = [{**src.to_dict(), "read": count(examples, k), "held_out": count(held_out, k),
                              "mixed": count(train_examples, k)} for k, src in enumerate(sources)]
        for k, (src, row) in enumerate(zip(sources, report["mixture"])):
            log.info("data: source %d %s (%s): %d read, %d held out, %d in the mixture", k, src.path, src.share,
                     row["read"], row["held_out"], row["mixed"])
    log.info("data: %d examples in %s, %d held out for evaluation, training on %s of the rest (%d)",
             len(examples), cfg.train_name, len(held_out), report["subset"], len(train_examples))
    return train_examples, held_out, report


def resolve_run_format(cfg, examples: list, report: dict):
    """(cfg with ``template``/``reward`` ``auto`` resolved from the examples' responses, the grader
    ``filter_correct`` applies to the responses as loaded). The choice is logged and goes to ``report``.

    With ``to_r1_zero`` the responses are rewritten with R1-Zero tags after filtering, so ``auto``
    means r1_zero for training and evaluation while filtering grades the loaded (free-form) responses."""
    keys = ("template", "reward")
    if cfg.to_r1_zero:
        loaded = resolve_format(AUTO, AUTO, examples, quiet=True)
        fmt = resolve_format("r1_zero" if cfg.template == AUTO else cfg.template, cfg.reward, examples, quiet=True)
        log.info("format: template %s, reward %s (to_r1_zero: responses rewritten with R1-Zero tags; filtering grades "
                 "them as loaded with %s); set template or reward to choose", fmt.template, fmt.reward, loaded.reward)
        filter_reward = loaded.reward
    else:
        fmt = resolve_format(cfg.template, cfg.reward, examples, what=cfg.train_name, keys=keys)
        filter_reward = fmt.reward
    report.update(template=fmt.template, reward=fmt.reward)
    return dataclasses.replace(cfg, template=fmt.template, reward=fmt.reward), filter_reward


def resolve_add_eos(add_eos: str, template: str, tokenizer) -> bool:
    """Whether responses end with the tokenizer's EOS: ``auto`` under every text template (the
    ``chat`` template's end-of-turn token already ends a response), ``true``/``false`` as set."""
    if add_eos == "false":
        return False
    if add_eos == "auto" and template == CHAT:
        return False
    if tokenizer.eos_token_id is None:
        if add_eos == "true":
            raise ConfigError("add_eos: true, but the tokenizer has no EOS token")
        log.warning("add_eos auto: the tokenizer has no EOS token; responses are trained without one (the model "
                    "may not learn to stop)")
        return False
    return True


def resolve_overlength(overlength: str, template: str, responses: list[str]) -> str:
    """``auto``: ``drop`` when the template or a response holds an answer block or a ``</think>`` (a cut
    at max_length would teach reasoning without its conclusion), else ``truncate``; others as set."""
    if overlength != "auto":
        return overlength
    if "<answer>" in template or any("</answer>" in r or "</think>" in r for r in responses):
        return "drop"
    return "truncate"


def build_train_data(cfg, examples: list, report: dict, tokenizer, info: dist_.DistInfo,
                     progress: bool, filter_reward: str | None = None) -> TrainData:
    """Optionally filter (with ``filter_reward``, default ``cfg.reward``) and convert to R1-Zero, then
    template and tokenize (once) the training examples; counts go to ``report``."""
    template = load_template(cfg.template)
    if cfg.filter_correct:
        reward = filter_reward or cfg.reward
        examples, frep = filter_correct(examples, get_reward(reward), progress=progress)
        report["filter"] = frep.to_dict()
        for line in frep.lines():
            log.info("filter: %s", line)
        graded = frep.n_before - frep.rejected["no_response"] - frep.rejected["no_ground_truth"]
        hint = format_hint(reward, frep.rejected["bad_format"], graded, flag="reward")
        if hint is not None and not examples:
            raise hint
    if cfg.to_r1_zero:
        examples, tagged, no_answer = convert_to_r1_zero(examples)
        report.update(n_converted_r1_zero=len(examples) - tagged, n_dropped_no_answer=no_answer)
        log.info("to_r1_zero: %d responses rewritten with R1-Zero tags, %d already tagged, %d dropped (no answer "
                 "found to put in <answer>)", len(examples) - tagged, tagged, no_answer)
    if not examples:
        raise UserInputError(f"{cfg.train_name}: no training examples left")
    add_eos = resolve_add_eos(cfg.add_eos, template, tokenizer)
    report["add_eos"] = add_eos
    weights = [e.weight for e in examples]
    sources = cfg.train_sources()
    if template == CHAT or any(src.template for src in sources):
        # conversations: cut at max_length (the over-length policy covers prompt/response records)
        overlength = "truncate"
        sequences, origins, seq_eos = _train_sequences(cfg, sources, examples, tokenizer, report)
        ts = build_segment_train_set(sequences, tokenizer, cfg.max_length, add_eos=seq_eos,
                                     weights=[examples[i].weight for i in origins])
        ts.n_overlength = ts.n_truncated
        trained_origins = [origins[i] for i in ts.kept]
    else:
        prompts = render_prompts(template, examples, tokenizer, cfg.system_prompt)
        responses = render_responses(template, examples, tokenizer, cfg.system_prompt)
        overlength = resolve_overlength(cfg.overlength, template, responses)
        ts = build_train_set(prompts, responses, tokenizer, cfg.max_length, add_eos=add_eos, overlength=overlength,
                             sources=[e.meta.get("source") for e in examples], weights=weights)
        trained_origins = ts.kept
    report.update(n_truncated=ts.n_truncated, n_dropped_too_long=ts.n_dropped, n_train=len(ts),
                  overlength={"policy": overlength, "n_over_max_length": ts.n_overlength,
                              "n_dropped": ts.n_dropped_overlength, "n_truncated": ts.n_truncated,
                              **{f"n_{'lost' if overlength == 'truncate' else 'would_lose'}_{m.strip('</>')}": n
                                 for m, n in ts.lost.items()}})
    if "mixture" in report:
        for k, row in enumerate(report["mixture"]):
            row["kept"] = sum(e.meta.get(SOURCE_KEY) == k for e in examples)
            row["trained"] = sum(examples[i].meta.get(SOURCE_KEY) == k for i in trained_origins)
            log.info("data: source %d %s: %d kept (after filtering), %d sequences trained", k, row["path"],
                     row["kept"], row["trained"])
    if any(w != 1 for w in weights):
        report["weights"] = {"n_weighted": sum(w != 1 for w in weights), "n_zero": sum(w == 0 for w in weights),
                             "sum": sum(weights)}
        log.info("weights: %d of %d examples weighted (%d at 0, out of the loss); weights sum to %g",
                 report["weights"]["n_weighted"], len(weights), report["weights"]["n_zero"], sum(weights))
    detail = ""
    if ts.n_overlength and ts.lost:
        verb = "lost" if overlength == "truncate" else "would have lost"
        detail = (f": {ts.n_dropped_overlength} dropped, {ts.n_truncated} truncated; {verb} </think>: "
                  f"{ts.lost['</think>']}, </answer>: {ts.lost['</answer>']}")
    log.info("train set: %d examples, %d over max_length=%d (overlength %s%s), %d dropped (prompt fills max_length or "
             "empty response)", len(ts), ts.n_overlength, cfg.max_length, overlength, detail, ts.n_dropped)
    if not len(ts):
        raise UserInputError(f"no training example fits max_length={cfg.max_length} (overlength {overlength}); "
                             "raise max_length")
    data = TrainData(ts, micro_batch_size=cfg.micro_batch_size, accumulation=cfg.gradient_accumulation_steps,
                     world_size=info.world_size, rank=info.rank, seed=cfg.seed, group_by_length=cfg.group_by_length,
                     pad_id=_pad_id(tokenizer), packing=cfg.packing,
                     max_tokens=cfg.packing_budget if cfg.packing else None)
    if data.steps_per_epoch() == 0:
        what = f"{cfg.packing_budget}-token packed micro-batches" if cfg.packing else str(cfg.micro_batch_size)
        raise UserInputError(f"{len(ts)} examples do not fill one global batch of {what} x "
                             f"{cfg.gradient_accumulation_steps} x {info.world_size} ranks")
    if cfg.packing:
        bins = [mb for step in data.plan(0) for mb in step]
        fill = sum(ts.lengths[i] for mb in bins for i in mb) / max(1, len(bins) * cfg.packing_budget)
        report["packing"] = {"max_tokens_per_micro_batch": cfg.packing_budget, "micro_batches_per_epoch": len(bins),
                             "fill": round(fill, 4)}
        log.info("packing: %d examples in %d micro-batches of <= %d tokens (%.1f%% full), %d optimizer steps per "
                 "epoch", len(ts), len(bins), cfg.packing_budget, 100 * fill, data.steps_per_epoch())
    return data


def _train_sequences(cfg, sources: list, examples: list, tokenizer, report: dict) -> tuple[list, list[int], list]:
    """(sequences of ``(text, trained)`` segments, the example each comes from, whether each ends with
    EOS): chat examples under the config's ``loss_on``, ``history_thinking`` and ``think_loss``, the
    others as (prompt, response) under their source's template (else the run's); counts go to ``report``."""
    from ..data.chat import ChatOptions, chat_sequences, end_of_turn

    options = ChatOptions(loss_on=cfg.loss_on, history_thinking=cfg.history_thinking, think_loss=cfg.think_loss,
                          system=cfg.system_prompt)
    names = [(sources[e.meta[SOURCE_KEY]].template if SOURCE_KEY in e.meta else None) or cfg.template
             for e in examples]
    templates = {name: load_template(name) for name in set(names)}
    eot = end_of_turn(tokenizer) if CHAT in templates.values() else None
    per_example: list[list] = [[] for _ in examples]
    for name, tmpl in templates.items():
        idx = [i for i, n in enumerate(names) if n == name]
        if tmpl == CHAT:
            for i in idx:
                per_example[i] = chat_sequences(tokenizer, examples[i], options, eot)
        else:
            group = [examples[i] for i in idx]
            prompts = render_prompts(tmpl, group, tokenizer, cfg.system_prompt)
            for i, p, r in zip(idx, prompts, render_responses(tmpl, group, tokenizer, cfg.system_prompt)):
                per_example[i] = [[(p, False), (r, True)]]
    sequences, origins, eos = [], [], []
    for i, seqs in enumerate(per_example):
        ends = resolve_add_eos(cfg.add_eos, templates[names[i]], tokenizer)
        sequences += seqs
        origins += [i] * len(seqs)
        eos += [ends] * len(seqs)
    chat = [k for k, i in enumerate(origins) if templates[names[i]] == CHAT]
    if chat:
        turns = sum(trained for k in chat for _, trained in sequences[k])
        report["chat"] = {"loss_on": cfg.loss_on, "trained_turns": turns, "sequences": len(chat)}
        log.info("chat: %d examples -> %d sequences, %d trained assistant turns (loss_on %s, history_thinking %s, "
                 "think_loss %s)", len({origins[k] for k in chat}), len(chat), turns, cfg.loss_on,
                 cfg.history_thinking, cfg.think_loss)
    return sequences, origins, eos


def build_eval_set(cfg, held_out: list, tokenizer=None) -> tuple[list[str], list]:
    """The first ``eval_n`` evaluation prompts (templated) and their ground truths: from eval_data, or
    the examples held out of train_data by ``test_size``."""
    prompts, truths, _ = build_eval_sources(cfg, held_out, tokenizer)
    return prompts, truths


def build_eval_sources(cfg, held_out: list, tokenizer=None) -> tuple[list[str], list, list[str]]:
    """(prompts, ground truths, the source each comes from): the first ``eval_n`` examples of each
    eval_data source (or of the ``test_size`` held-out examples, source "held_out")."""
    labels = []
    if cfg.eval_data:
        examples = []
        for src in cfg.eval_sources():
            loaded = load_examples(src.path, split=src.split, require_ground_truth=True,
                                   truth_from_boxed=cfg.truth_from_boxed)[: cfg.eval_n]
            if not loaded:
                raise UserInputError(f"{src.path}: no examples to evaluate")
            examples += loaded
            labels += [src.path + (f":{src.split}" if src.split else "")] * len(loaded)
    else:
        examples = held_out[: cfg.eval_n]
        labels = ["held_out"] * len(examples)
    template = load_template(cfg.template)
    if not examples:
        raise UserInputError(f"{cfg.train_name}: no examples to evaluate")
    return render_prompts(template, examples, tokenizer, cfg.system_prompt), [e.ground_truth for e in examples], labels


def build_evaluator_for(cfg, model, tokenizer, device: str):
    sampling = Sampling(max_new_tokens=cfg.eval_max_new_tokens, temperature=cfg.eval_temperature, seed=cfg.seed,
                        stop_token_ids=stop_token_ids(load_template(cfg.template), tokenizer),
                        batch_size=cfg.eval_batch_size, top_p=cfg.eval_top_p, samples=cfg.eval_samples,
                        pass_k=cfg.pass_k)
    options = {}
    if cfg.eval_backend == "vllm":
        options = {"vllm_device": cfg.vllm_device, "gpu_memory_utilization": cfg.vllm_gpu_memory_utilization}
    return build_evaluator(cfg.eval_backend, model_path=cfg.model, model=model, tokenizer=tokenizer,
                           reward_fn=get_reward(cfg.reward), sampling=sampling, device=device, progress=False,
                           options=options)


def build_metrics(cfg, main: bool) -> MetricsLog:
    if cfg.plots and main:
        from ..plots import require_plots

        require_plots()  # the plots are written at the end: say it is missing before training
    return MetricsLog(Path(cfg.output_dir), cfg.log, cfg.to_dict(), enabled=main)


def build_components(cfg, info: dist_.DistInfo, checkpoint: ckpt.Checkpoint | None) -> Components:
    """Model (with the checkpoint's weights when resuming), data, optimizer, schedule, evaluator, logger."""
    device = f"cuda:{info.local_rank}" if cfg.device == "cuda" and info.enabled else cfg.device
    model, tokenizer = build_model(cfg, device)
    if checkpoint is not None:
        ckpt.apply_weights(checkpoint, model)
    tied = tied_parameter_names(model)
    packing_path = None
    if cfg.packing:
        from .packing import choose_packing_path

        packing_path = choose_packing_path(model)  # logs the path; every rank probes its own copy
    module = dist_.wrap_for_training(model, cfg.parallel, info, cfg.fused_logprobs, packing_path=packing_path)
    examples, held_out, report = select_examples(cfg)
    cfg, filter_reward = resolve_run_format(cfg, examples + held_out, report)
    data = build_train_data(cfg, examples, report, tokenizer, info, progress=cfg.progress and info.is_main,
                            filter_reward=filter_reward)
    total_steps = cfg.max_steps or data.steps_per_epoch() * cfg.epochs
    optimizer = build_optimizer(model, cfg.optimizer, lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2),
                                weight_decay=cfg.weight_decay)
    scheduler = build_scheduler(optimizer, cfg.lr_schedule, warmup_steps=cfg.warmup_steps, total_steps=total_steps,
                                min_lr_ratio=cfg.min_lr_ratio)
    c = Components(model, module, tokenizer, optimizer, scheduler, data, total_steps, build_metrics(cfg, info.is_main),
                   tied=tied, report=report)
    if info.is_main and cfg.has_eval:
        c.eval_prompts, c.eval_truths, c.eval_sources = build_eval_sources(cfg, held_out, tokenizer)
        c.evaluator = build_evaluator_for(cfg, model, tokenizer, device)
        if cfg.eval_kl:
            c.ref_model, _ = load_model_and_tokenizer(cfg.model, device=device, dtype=cfg.dtype,
                                                      trust_remote_code=cfg.trust_remote_code)
            c.ref_model.eval().requires_grad_(False)
    return c
