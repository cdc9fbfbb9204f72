"""``tracesft data inspect``: what a data file holds, before choosing ``max_length``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .loaders import detect_schema, field_mapping, load_examples
from .sources import iter_records
from .templates import CHAT, load_template, render_prompts, render_responses

__all__ = ["inspect_data", "format_inspection", "check_template", "format_check", "MAX_LENGTHS"]

MAX_LENGTHS = (256, 512, 1024, 2048, 4096, 8192)


def _percentiles(values: list[int]) -> dict:
    if not values:
        return {}
    s = sorted(values)

    def at(q):
        return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": s[-1]}


def _schemas(path: Path, split: str | None) -> tuple[Counter, dict]:
    counts: Counter = Counter()
    mappings: dict = {}
    for _, record in iter_records(path, split):  # validated by load_examples already
        schema = detect_schema(record) or "unrecognised"
        counts[schema] += 1
        mappings.setdefault(schema, field_mapping(record))
    return counts, mappings


THINK_END = "</think>"


def split_think(response: str) -> tuple[str, str]:
    """(reasoning up to and including ``</think>``, the rest: the answer); no ``</think>``: ("", response)."""
    at = response.find(THINK_END)
    if at < 0:
        return "", response
    return response[:at + len(THINK_END)], response[at + len(THINK_END):]


def inspect_data(path, tokenizer=None, template: str = "r1_zero", split: str | None = None) -> dict:
    """Rows, schemas and field mappings, answer and response coverage, prompt/response lengths
    (tokens with ``tokenizer``, else characters), the response split into reasoning (through
    ``</think>``) and answer (the rest; the two parts tokenized apart, so their sum may differ from the
    response's by a token at the seam), and for each ``max_length`` how many examples it would cut, and
    where: inside the reasoning (``</think>`` and the answer lost) or inside the answer."""
    path = Path(path)
    examples = load_examples(path, split=split)
    counts, mappings = _schemas(path, split)
    tmpl = load_template(template)
    if tmpl == CHAT and tokenizer is None:
        from ..errors import UserInputError

        raise UserInputError("template chat needs the model's tokenizer: pass --tokenizer")
    prompts = render_prompts(tmpl, examples, tokenizer)
    rendered = iter(render_responses(tmpl, [e for e in examples if e.response is not None], tokenizer))
    responses = [next(rendered) if e.response is not None else "" for e in examples]
    parts = [split_think(r) for r in responses]
    thinks, answers = [t for t, _ in parts], [a for _, a in parts]
    if tokenizer is not None:
        def count(texts, **kw):
            return [len(ids) for ids in tokenizer(texts, **kw)["input_ids"]] if texts else []

        p_len, r_len = count(prompts), count(responses, add_special_tokens=False)
        t_len, a_len = count(thinks, add_special_tokens=False), count(answers, add_special_tokens=False)
        unit = "tokens"
    else:
        p_len, r_len, unit = [len(p) for p in prompts], [len(r) for r in responses], "characters"
        t_len, a_len = [len(t) for t in thinks], [len(a) for a in answers]
    total = [a + b for a, b in zip(p_len, r_len)]
    with_think = [k for k, t in enumerate(thinks) if t]
    cut = {L: {"over": sum(t > L for t in total),
               "in_reasoning": sum(total[k] > L and p_len[k] + t_len[k] > L for k in with_think),
               "in_answer": sum(total[k] > L and p_len[k] + t_len[k] <= L for k in with_think)}
           for L in MAX_LENGTHS}
    n = len(examples)
    cover_99 = _percentiles(total).get("p99")
    return {
        "path": str(path), "rows": n, "schemas": dict(counts), "field_mapping": mappings,
        "with_ground_truth": sum(e.ground_truth is not None for e in examples),
        "with_response": sum(e.response is not None for e in examples),
        "unit": unit, "template": template,
        "prompt_length": _percentiles(p_len), "response_length": _percentiles(r_len),
        "think_length": _percentiles([t_len[k] for k in with_think]),
        "answer_length": _percentiles([a_len[k] for k in with_think]),
        "total_length": _percentiles(total), "with_think_end": len(with_think),
        "truncated_at": {L: c["over"] for L, c in cut.items()},
        "cut_at": cut,
        "max_length_for_99_percent": cover_99,
    }


def format_inspection(r: dict) -> str:
    n = max(1, r["rows"])
    lines = [f"{r['path']}: {r['rows']} rows"]
    for schema, count in r["schemas"].items():
        mapping = ", ".join(f"{k} <- {v}" for k, v in r["field_mapping"].get(schema, {}).items() if v)
        lines.append(f"  schema {schema}: {count} rows ({mapping})")
    lines.append(f"  ground truth: {r['with_ground_truth']} ({r['with_ground_truth'] / n:.1%}); "
                 f"response: {r['with_response']} ({r['with_response'] / n:.1%})")
    lines.append(f"  lengths in {r['unit']} (prompt with the {r['template']} template):")
    lines.append(f"    {'':<10}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}")
    for key in ("prompt_length", "response_length", "think_length", "answer_length", "total_length"):
        p = r.get(key)
        if p:
            lines.append(f"    {key.split('_')[0]:<10}{p['p50']:>8}{p['p90']:>8}{p['p99']:>8}{p['max']:>8}")
    if r.get("with_think_end"):
        lines.append(f"    (think: the response through </think>, answer: the rest; {r['with_think_end']} responses "
                     "hold </think>)")
    cut = ", ".join(f"{L}: {c} ({c / n:.1%})" for L, c in r["truncated_at"].items())
    lines.append(f"  examples longer than max_length ({r['unit']}): {cut}")
    if r.get("with_think_end"):
        where = ", ".join(f"{L}: {c['in_reasoning']}/{c['in_answer']}" for L, c in r["cut_at"].items()
                          if c["over"])
        if where:
            lines.append(f"  of those with </think>, cut inside the reasoning (</think> and the answer lost) / inside "
                         f"the answer: {where}")
    if r["max_length_for_99_percent"] is not None:
        lines.append(f"  max_length covering 99% of the examples: {r['max_length_for_99_percent']} {r['unit']}")
    return "\n".join(lines)


def check_template(path, tokenizer, n: int = 20, split: str | None = None, loss_on: str = "assistant",
                   history_thinking: str = "strip", think_loss: bool = True, show: int = 0) -> dict:
    """Render the first ``n`` records with a response for training and for inference under the chat
    template and compare the tokens of every trained turn (:func:`tracesft.data.chat.check_parity`);
    ``show``: also the first ``show`` records' training sequences, trained tokens in ``[[ ]]``."""
    from .chat import ChatOptions, check_parity, end_of_turn

    if tokenizer is None:
        from ..errors import UserInputError

        raise UserInputError("--check-template needs the model's tokenizer: pass --tokenizer")
    examples = [e for e in load_examples(path, split=split) if e.response is not None][:n]
    options = ChatOptions(loss_on=loss_on, history_thinking=history_thinking, think_loss=think_loss)
    eot = end_of_turn(tokenizer)
    problems, turns = [], 0
    from .chat import _trained_turns, conversation

    for e in examples:
        turns += len(_trained_turns(conversation(e), loss_on))
        problems += check_parity(tokenizer, e, options, eot)
    shown = [{"source": e.meta.get("source"), "sequences": _marked(tokenizer, e, options, eot)}
             for e in examples[:show]]
    return {"records": len(examples), "turns": turns, "differing": len(problems), "problems": problems,
            "loss_on": loss_on, "history_thinking": history_thinking, "think_loss": think_loss, "shown": shown}


def _marked(tokenizer, example, options, eot) -> list[str]:
    """Each training sequence of ``example`` decoded, its trained tokens between ``[[`` and ``]]``."""
    from .chat import chat_sequences, tokenize_segments

    out = []
    for seq in chat_sequences(tokenizer, example, options, eot):
        ids, spans = tokenize_segments(tokenizer, seq)
        text, at = "", 0
        for a, b in spans:
            text += tokenizer.decode(ids[at:a]) + "[[" + tokenizer.decode(ids[a:b]) + "]]"
            at = b
        out.append(text + tokenizer.decode(ids[at:]))
    return out


def format_check(r: dict) -> str:
    head = (f"check-template: {r['records']} records, {r['turns']} trained turns (loss_on {r['loss_on']}, "
            f"history_thinking {r['history_thinking']}): ")
    if not r["differing"]:
        return "\n".join(x for x in (format_shown(r), head + "training and inference tokens agree") if x)
    lines = ([format_shown(r)] if r.get("shown") else []) + [head + f"{r['differing']} turn(s) differ"]
    lines += [f"  {p['source']} messages[{p['turn']}]: {p['what']}" for p in r["problems"][:20]]
    return "\n".join(lines)


def format_shown(r: dict) -> str:
    lines = []
    for item in r.get("shown", ()):
        for k, text in enumerate(item["sequences"]):
            lines.append(f"--- {item['source']} sequence {k + 1} of {len(item['sequences'])} "
                         f"(trained tokens in [[ ]]; think_loss {str(r['think_loss']).lower()}):")
            lines.append(text)
    return "\n".join(lines)
