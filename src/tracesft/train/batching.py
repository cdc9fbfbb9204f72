"""Training data: tokenized once, grouped by length into an epoch plan, collated per micro-batch.

:func:`build_train_set` tokenizes every example once (the ids are kept); :func:`epoch_plan` turns
the lengths into an epoch of optimizer steps; :class:`TrainData` serves one rank's micro-batches of
each step through a ``DataLoader`` whose batch sampler walks the plan (and can start mid-epoch, for
resume), with :func:`collate` building the padded tensors.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

__all__ = ["TrainSet", "build_train_set", "build_segment_train_set", "epoch_plan", "collate", "TrainData"]


@dataclass
class TrainSet:
    """Tokenized examples: prompt+response ids (truncated to max_length) and each prompt's length.

    ``spans`` (optional): each sequence's trained token ranges ``[start, end)`` (several assistant turns;
    without it, everything after the prompt is trained); ``weights`` (optional): each sequence's loss
    weight (the record's ``weight``)."""

    input_ids: list[list[int]]
    prompt_lengths: list[int]
    n_truncated: int  # examples cut at max_length (kept)
    n_dropped: int  # examples whose prompt alone fills max_length, or with an empty response
    spans: list[list[tuple[int, int]]] | None = None
    weights: list[float] | None = None
    kept: list[int] | None = None  #: the index, among the inputs, of each sequence kept

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> tuple:
        if self.spans is None and self.weights is None:
            return self.input_ids[i], self.prompt_lengths[i]
        return (self.input_ids[i], self.prompt_lengths[i], self.spans[i] if self.spans is not None else None,
                self.weights[i] if self.weights is not None else 1.0)


def _weights_or_none(weights) -> list[float] | None:
    return None if weights is None or all(w == 1 for w in weights) else [float(w) for w in weights]


def build_train_set(prompts: list[str], responses: list[str], tokenizer, max_length: int,
                    add_eos: bool = False, weights: list[float] | None = None) -> TrainSet:
    """Tokenize each example once, exactly as :func:`tracesft.tokenize_prompt_and_output` does (prompt
    with special tokens, response without, then ``tokenizer.eos_token_id`` with ``add_eos`` unless the
    response already ends with it, concatenated, cut at ``max_length``); count truncated examples;
    drop (and count) those with no response token left. ``weights``: each example's loss weight."""
    from ..tokenization import with_eos

    p_ids = tokenizer(list(prompts))["input_ids"]
    o_ids = tokenizer(list(responses), add_special_tokens=False)["input_ids"]
    if add_eos:
        o_ids = with_eos(o_ids, tokenizer)
    ids, n_prompt, kept_weights, kept = [], [], [], []
    truncated = dropped = 0
    for k, (pi, oi) in enumerate(zip(p_ids, o_ids)):
        if len(pi) >= max_length or not oi:
            dropped += 1
            continue
        kept.append(k)
        truncated += len(pi) + len(oi) > max_length
        ids.append((list(pi) + list(oi))[:max_length])
        n_prompt.append(len(pi))
        kept_weights.append(weights[k] if weights is not None else 1.0)
    return TrainSet(ids, n_prompt, truncated, dropped, weights=_weights_or_none(kept_weights), kept=kept)


def build_segment_train_set(sequences: list[list[tuple[str, bool]]], tokenizer, max_length: int,
                            add_eos: bool | list[bool] = False, weights: list[float] | None = None) -> TrainSet:
    """Tokenize sequences given as ``(text, trained)`` segments (:func:`tracesft.data.chat.chat_sequences`):
    the first segment with special tokens, the rest without, concatenated; the trained segments' tokens
    are the sequence's spans. With ``add_eos`` the last trained segment ends with the EOS (unless it does
    already; a list: per sequence). Cut at ``max_length`` (counted); dropped (counted) when no trained
    token is left."""
    from ..data.chat import tokenize_segments

    ids, n_prompt, spans, kept_weights, kept = [], [], [], [], []
    truncated = dropped = 0
    for k, segments in enumerate(sequences):
        seq, sp = tokenize_segments(tokenizer, segments)
        eos, wants = tokenizer.eos_token_id, add_eos[k] if isinstance(add_eos, list) else add_eos
        if wants and sp and eos is not None and seq[sp[-1][1] - 1] != eos:
            end = sp[-1][1]
            seq = seq[:end] + [eos] + seq[end:]
            sp[-1] = (sp[-1][0], end + 1)
        cut = [(a, min(b, max_length)) for a, b in sp if a < max_length]
        if not cut:
            dropped += 1
            continue
        kept.append(k)
        truncated += len(seq) > max_length
        ids.append(seq[:max_length])
        n_prompt.append(cut[0][0])
        spans.append(cut)
        kept_weights.append(weights[k] if weights is not None else 1.0)
    return TrainSet(ids, n_prompt, truncated, dropped, spans=spans, weights=_weights_or_none(kept_weights), kept=kept)


def collate(examples: list[tuple], pad_id: int) -> dict:
    """Right-pad and shift one micro-batch, as :func:`tracesft.tokenize_prompt_and_output` returns it.

    Each example is ``(ids, prompt_length)`` or ``(ids, prompt_length, spans, weight)``. Returns
    ``input_ids``/``labels`` (b, L-1) int64, ``response_mask`` (b, L-1) bool (True where the label is a
    trained token: after the prompt, or inside a span), ints ``n_tokens`` (non-padding tokens) and
    ``n_padding``, and ``loss_weight`` (b,) float32 when an example has a weight other than 1.
    """
    length = max(len(ex[0]) for ex in examples)
    padded = torch.full((len(examples), length), pad_id, dtype=torch.long)
    is_response = torch.zeros((len(examples), length), dtype=torch.bool)
    weights = []
    for i, (ids, n_p, *extra) in enumerate(examples):
        padded[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        spans = extra[0] if extra and extra[0] is not None else [(n_p, len(ids))]
        for a, b in spans:
            is_response[i, a:b] = True
        weights.append(extra[1] if extra else 1.0)
    n_tokens = sum(len(ex[0]) for ex in examples)
    batch = {"input_ids": padded[:, :-1].contiguous(), "labels": padded[:, 1:].contiguous(),
             "response_mask": is_response[:, 1:].contiguous(), "n_tokens": n_tokens,
             "n_padding": (length - 1) * len(examples) - (n_tokens - len(examples))}
    if any(w != 1 for w in weights):
        batch["loss_weight"] = torch.tensor(weights, dtype=torch.float32)
    return batch


def epoch_plan(lengths: list[int], micro_batch_size: int, accumulation: int, seed: int, epoch: int,
               group_by_length: bool = True) -> list[list[list[int]]]:
    """The epoch's optimizer steps, each a list of micro-batches of example indices.

    Deterministic in (seed, epoch). Shuffled; with ``group_by_length``, indices are sorted by length
    inside buckets of 16 optimizer steps (cutting padding), and the steps are shuffled again so
    that lengths are not a curriculum. The last step may hold fewer micro-batches.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    per_step = micro_batch_size * accumulation
    if group_by_length:
        bucket = per_step * 16
        idx = [i for b in range(0, len(idx), bucket)
               for i in sorted(idx[b:b + bucket], key=lambda j: -lengths[j])]
    steps = [idx[s:s + per_step] for s in range(0, len(idx), per_step)]
    if group_by_length:
        rng.shuffle(steps)
    return [[s[m:m + micro_batch_size] for m in range(0, len(s), micro_batch_size)] for s in steps]


class _StepSampler:
    """Batch sampler: one rank's example indices of each step of ``steps`` (flattened)."""

    def __init__(self, steps: list[list[list[int]]], rank: int, accumulation: int) -> None:
        self.local = [step[rank * accumulation:(rank + 1) * accumulation] for step in steps]

    def __iter__(self):
        for microbatches in self.local:
            yield [i for mb in microbatches for i in mb]

    def __len__(self) -> int:
        return len(self.local)


class TrainData:
    """Each epoch's optimizer steps for this rank: a list of collated micro-batches per step.

    ``accumulation`` (G) micro-batches of ``micro_batch_size`` per rank and step, ``world_size``
    ranks; under several ranks a short last step is dropped, since every rank needs its G.
    """

    def __init__(self, train_set: TrainSet, *, micro_batch_size: int, accumulation: int, world_size: int = 1,
                 rank: int = 0, seed: int = 0, group_by_length: bool = True, pad_id: int = 0) -> None:
        self.train_set, self.micro_batch_size, self.accumulation = train_set, micro_batch_size, accumulation
        self.world_size, self.rank, self.seed, self.group_by_length = world_size, rank, seed, group_by_length
        self.pad_id = pad_id

    def plan(self, epoch: int) -> list[list[list[int]]]:
        G, W = self.accumulation, self.world_size
        plan = epoch_plan(self.train_set.lengths, self.micro_batch_size, G * W, self.seed, epoch, self.group_by_length)
        return [s for s in plan if len(s) == G * W] if W > 1 else plan

    def steps_per_epoch(self) -> int:
        return len(self.plan(0))

    def _collate_step(self, examples: list) -> list[dict]:
        m = self.micro_batch_size
        return [collate(examples[s:s + m], self.pad_id) for s in range(0, len(examples), m)]

    def epoch(self, epoch: int, start: int = 0):
        """The steps of ``epoch`` from step ``start`` on (resume), as lists of micro-batch dicts."""
        from torch.utils.data import DataLoader

        sampler = _StepSampler(self.plan(epoch)[start:], self.rank, self.accumulation)
        # its own generator: creating an iterator draws a seed, which from the global RNG would shift
        # dropout's random numbers between a run and its resume (the resume creates it at another step)
        generator = torch.Generator().manual_seed(self.seed + epoch)
        return DataLoader(self.train_set, batch_sampler=sampler, collate_fn=self._collate_step, generator=generator)
