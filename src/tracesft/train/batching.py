"""Training data: tokenized once, grouped by length (or packed) into an epoch plan, collated per micro-batch.

:func:`build_train_set` tokenizes every example once (the ids are kept) and applies the over-length
policy; :func:`epoch_plan` turns the lengths into an epoch of optimizer steps of length-grouped
micro-batches, :func:`packed_plan` into steps of packed micro-batches (whole examples, best-fit
decreasing, at most a token budget each); :class:`TrainData` serves one rank's micro-batches of each
step through a ``DataLoader`` whose batch sampler walks the plan (and can start mid-epoch, for
resume), with :func:`collate` building the padded tensors and :func:`collate_packed` one row of
concatenated examples whose positions restart at each example.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field

import torch

__all__ = ["TrainSet", "build_train_set", "build_segment_train_set", "epoch_plan", "packed_plan",
           "best_fit_decreasing", "collate", "collate_packed", "TrainData", "OVERLENGTH", "END_MARKERS"]

#: what happens to an example longer than max_length (prompt + response tokens)
OVERLENGTH = ("drop", "truncate", "error")
#: the closing tags whose loss an over-length example's truncation is counted for
END_MARKERS = ("</think>", "</answer>")


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
    n_overlength: int = 0  # examples longer than max_length (truncated, dropped or refused by the policy)
    n_dropped_overlength: int = 0  # of those, dropped (overlength: drop)
    #: of the over-length examples, how many lose (truncate) or would lose (drop) each END_MARKERS tag
    lost: dict = field(default_factory=dict)
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
                    add_eos: bool = False, overlength: str = "truncate", sources: list | None = None,
                    weights: list[float] | None = None) -> TrainSet:
    """Tokenize each example once, exactly as :func:`tracesft.tokenize_prompt_and_output` does (prompt
    with special tokens, response without, then ``tokenizer.eos_token_id`` with ``add_eos`` unless the
    response already ends with it, concatenated); drop (and count) those with no response token left.

    An example longer than ``max_length`` follows ``overlength``: ``truncate`` cuts it from the right
    (kept), ``drop`` leaves it out, ``error`` raises :class:`tracesft.errors.DataError` naming it
    (by its entry in ``sources``, e.g. ``file.jsonl:12``, when given). For
    each over-length example whose response holds ``</think>`` or ``</answer>``, ``lost`` counts the
    tags that the cut at ``max_length`` removes (under ``drop``: would have removed). ``weights``: each
    example's loss weight.
    """
    from ..errors import DataError
    from ..tokenization import with_eos

    if overlength not in OVERLENGTH:
        raise ValueError(f"overlength: {overlength!r} is not one of {', '.join(OVERLENGTH)}")
    p_ids = tokenizer(list(prompts))["input_ids"]
    o_ids = tokenizer(list(responses), add_special_tokens=False)["input_ids"]
    if add_eos:
        o_ids = with_eos(o_ids, tokenizer)
    ids, n_prompt, kept_weights, kept = [], [], [], []
    truncated = dropped = over = dropped_over = 0
    lost = dict.fromkeys(END_MARKERS, 0)
    for k, (pi, oi) in enumerate(zip(p_ids, o_ids)):
        if len(pi) >= max_length or not oi:
            dropped += 1
            continue
        n = len(pi) + len(oi)
        if n > max_length:
            if overlength == "error":
                where = (sources[k] if sources and sources[k] else None) or f"training example {k}"
                raise DataError(where, None, f"{n} tokens, over max_length={max_length} (overlength: error; set "
                                "overlength drop or truncate, or raise max_length)")
            over += 1
            for m in END_MARKERS:  # the tag is lost when the response through it does not fit
                end = responses[k].rfind(m)
                if end >= 0:
                    through = tokenizer([responses[k][:end + len(m)]], add_special_tokens=False)["input_ids"][0]
                    lost[m] += len(pi) + len(through) > max_length
            if overlength == "drop":
                dropped_over += 1
                continue
            truncated += 1
        kept.append(k)
        ids.append((list(pi) + list(oi))[:max_length])
        n_prompt.append(len(pi))
        kept_weights.append(weights[k] if weights is not None else 1.0)
    return TrainSet(ids, n_prompt, truncated, dropped, over, dropped_over, lost,
                    weights=_weights_or_none(kept_weights), kept=kept)


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
    ``n_padding``, ``n_sequences`` (b), and ``loss_weight`` (b,) float32 when an example has a weight other than 1.
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
             "n_padding": (length - 1) * len(examples) - (n_tokens - len(examples)), "n_sequences": len(examples)}
    if any(w != 1 for w in weights):
        batch["loss_weight"] = torch.tensor(weights, dtype=torch.float32)
    return batch


def collate_packed(examples: list[tuple]) -> dict:
    """One row of whole examples, each shifted on its own and concatenated: no padding.

    Each example of n tokens gives n-1 positions (its ``input_ids`` ids[:-1], ``labels`` ids[1:]),
    so no label crosses from one example into the next. Returns what :func:`collate` returns, as one
    row (1, T), plus ``position_ids`` (1, T) int64 restarting at 0 with each example (what tells the
    attention where an example starts) and ``segments`` (1, T) int64, the example's index in the row
    (what the ``sample`` normalisation groups by). Examples as :func:`collate` takes them (with spans
    and weights); with a weight other than 1, ``loss_weight`` (1, T) float32 is each position's
    example's weight and ``sequence_weight`` the row's sum of example weights.
    """
    inputs, labels, mask, positions, segments, weights = [], [], [], [], [], []
    for k, (ids, n_p, *extra) in enumerate(examples):
        n = len(ids)
        t = torch.tensor(ids, dtype=torch.long)
        inputs.append(t[:-1])
        labels.append(t[1:])
        trained = torch.zeros(n, dtype=torch.bool)
        for a, b in (extra[0] if extra and extra[0] is not None else [(n_p, n)]):
            trained[a:b] = True
        mask.append(trained[1:])
        positions.append(torch.arange(n - 1))
        segments.append(torch.full((n - 1,), k, dtype=torch.long))
        weights.append(extra[1] if extra else 1.0)
    batch = {"input_ids": torch.cat(inputs)[None], "labels": torch.cat(labels)[None],
             "response_mask": torch.cat(mask)[None], "position_ids": torch.cat(positions)[None],
             "segments": torch.cat(segments)[None], "n_tokens": sum(len(ex[0]) for ex in examples),
             "n_padding": 0, "n_sequences": len(examples)}
    if any(w != 1 for w in weights):
        per_position = [torch.full((len(ex[0]) - 1,), float(w)) for ex, w in zip(examples, weights)]
        batch["loss_weight"] = torch.cat(per_position)[None]
        batch["sequence_weight"] = float(sum(weights))
    return batch


def best_fit_decreasing(items: list[tuple[int, int]], capacity: int) -> list[list[int]]:
    """Bins of at most ``capacity`` for ``(key, size)`` items, largest first, each into the fullest bin
    it fits (a new bin when none does); returns the keys of each bin in order of its creation.

    Deterministic: items of equal size keep their order in ``items``. An item larger than
    ``capacity`` raises ValueError (the over-length policy keeps them out).
    """
    bins: list[list[int]] = []
    space: list[tuple[int, int]] = []  # (room left, bin number), sorted
    for key, size in sorted(items, key=lambda kv: -kv[1]):
        if size > capacity:
            raise ValueError(f"item {key} of size {size} exceeds the bin capacity {capacity}")
        at = bisect.bisect_left(space, (size, -1))
        if at < len(space):
            room, b = space.pop(at)
        else:
            room, b = capacity, len(bins)
            bins.append([])
        bins[b].append(key)
        if room - size > 0:
            bisect.insort(space, (room - size, b))
    return bins


def packed_plan(lengths: list[int], max_tokens: int, accumulation: int, seed: int, epoch: int) -> list[list[list[int]]]:
    """The epoch's optimizer steps under packing, each ``accumulation`` packed micro-batches (the last
    step may hold fewer), a micro-batch a list of example indices totalling at most ``max_tokens``.

    Deterministic in (seed, epoch): the examples are shuffled, cut into buckets of about 16 steps'
    tokens, each bucket packed best-fit decreasing (so a bucket's long and short examples fill each
    other's rows, and the rows differ from one epoch to the next), then the micro-batches are
    shuffled (lengths are no curriculum) and taken ``accumulation`` at a time.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    bucket_tokens = 16 * accumulation * max_tokens
    bins: list[list[int]] = []
    start = total = 0
    for k, i in enumerate(idx):
        total += lengths[i]
        if total >= bucket_tokens or k == len(idx) - 1:
            bins += best_fit_decreasing([(j, lengths[j]) for j in idx[start:k + 1]], max_tokens)
            start, total = k + 1, 0
    rng.shuffle(bins)
    return [bins[s:s + accumulation] for s in range(0, len(bins), accumulation)]


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
    """Batch sampler: one rank's micro-batches of each step of ``steps``, flattened to (micro-batch
    number, example index) keys, so that collation keeps each micro-batch whole."""

    def __init__(self, steps: list[list[list[int]]], rank: int, accumulation: int) -> None:
        self.local = [step[rank * accumulation:(rank + 1) * accumulation] for step in steps]

    def __iter__(self):
        for microbatches in self.local:
            yield [(m, i) for m, mb in enumerate(microbatches) for i in mb]

    def __len__(self) -> int:
        return len(self.local)


class _Keyed(torch.utils.data.Dataset):
    """The train set read by (micro-batch number, example index): items carry their micro-batch."""

    def __init__(self, train_set: TrainSet) -> None:
        self.train_set = train_set

    def __len__(self) -> int:
        return len(self.train_set)

    def __getitem__(self, key: tuple[int, int]):
        m, i = key
        return m, self.train_set[i]


class TrainData:
    """Each epoch's optimizer steps for this rank: a list of collated micro-batches per step.

    ``accumulation`` (G) micro-batches per rank and step, ``world_size`` ranks; a micro-batch holds
    ``micro_batch_size`` examples, or with ``packing`` whole examples of at most ``max_tokens`` tokens
    in one row (:func:`packed_plan`, :func:`collate_packed`). Under several ranks a short last step is
    dropped, since every rank needs its G.
    """

    def __init__(self, train_set: TrainSet, *, micro_batch_size: int, accumulation: int, world_size: int = 1,
                 rank: int = 0, seed: int = 0, group_by_length: bool = True, pad_id: int = 0,
                 packing: bool = False, max_tokens: int | None = None) -> None:
        self.train_set, self.micro_batch_size, self.accumulation = train_set, micro_batch_size, accumulation
        self.world_size, self.rank, self.seed, self.group_by_length = world_size, rank, seed, group_by_length
        self.pad_id, self.packing, self.max_tokens = pad_id, packing, max_tokens
        if packing and (max_tokens is None or max_tokens < 2):
            raise ValueError(f"packing needs max_tokens >= 2, got {max_tokens}")
        self._plans: dict[int, list] = {}

    def plan(self, epoch: int) -> list[list[list[int]]]:
        if epoch not in self._plans:  # packing an epoch is not free: once per epoch (and at most two kept)
            G, W = self.accumulation, self.world_size
            if self.packing:
                plan = packed_plan(self.train_set.lengths, self.max_tokens, G * W, self.seed, epoch)
            else:
                plan = epoch_plan(self.train_set.lengths, self.micro_batch_size, G * W, self.seed, epoch,
                                  self.group_by_length)
            self._plans = {e: p for e, p in self._plans.items() if e == epoch - 1}
            self._plans[epoch] = [s for s in plan if len(s) == G * W] if W > 1 else plan
        return self._plans[epoch]

    def steps_per_epoch(self) -> int:
        return len(self.plan(0))

    def _collate_step(self, items: list) -> list[dict]:
        groups: dict[int, list] = {}
        for m, example in items:
            groups.setdefault(m, []).append(example)
        if self.packing:
            return [collate_packed(groups[m]) for m in sorted(groups)]
        return [collate(groups[m], self.pad_id) for m in sorted(groups)]

    def epoch(self, epoch: int, start: int = 0):
        """The steps of ``epoch`` from step ``start`` on (resume), as lists of micro-batch dicts."""
        from torch.utils.data import DataLoader

        sampler = _StepSampler(self.plan(epoch)[start:], self.rank, self.accumulation)
        # its own generator: creating an iterator draws a seed, which from the global RNG would shift
        # dropout's random numbers between a run and its resume (the resume creates it at another step)
        generator = torch.Generator().manual_seed(self.seed + epoch)
        return DataLoader(_Keyed(self.train_set), batch_sampler=sampler, collate_fn=self._collate_step,
                          generator=generator)
