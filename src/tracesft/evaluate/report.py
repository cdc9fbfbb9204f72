"""``tracesft report RUN_DIR``: one self-contained ``report.html`` of a training run or an evaluation.

The page needs no network: its styles and script are inline (``report_page``), and a
Content-Security-Policy forbids fetching anything. The data travel as one JSON document in a
``<script type="application/json">`` element, with ``<``, ``>`` and ``&`` written as ``\\u003c``...
so that no model output can end the element; the page's script builds every node with
``textContent`` (never ``innerHTML``), so untrusted text stays text.

What it reads from the run directory, all optional but one of them:

- ``metrics.jsonl``: curves over steps, train rows (loss, lr, grad norm, entropy) and every numeric
  key of the eval rows (accuracy, pass@k, avg@k, maj@k, failure-mode rates, lengths, ...);
- ``summary.json``: the final table, every scalar key (nested dicts of scalars flattened one level);
- generations: ``generations.jsonl`` (``tracesft eval``) or the newest ``generations/step-N.jsonl``
  (training): the table of responses and the length histogram of correct vs incorrect ones.

Per record the page uses ``cut_off`` / ``repetition`` / ``extracted_answer`` when the record has them;
otherwise it computes the fallbacks below and the page says so.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

from ..errors import UserInputError
from ..outputs import write_text_atomic

__all__ = ["REPORT_NAME", "build_report", "write_report", "write_report_quietly", "find_generations"]

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
#: records embedded in the page (all of them count in the histogram and the filter counts)
MAX_RECORDS = 2000
#: characters of each prompt / response embedded (the rest is cut, and the page says where)
MAX_CHARS = 20000
#: characters of all responses and prompts together: each text's limit shrinks to fit (>= 2,000)
MAX_TEXT_CHARS = 16_000_000

_STEP_FILE = re.compile(r"step-(\d+)\.jsonl$")
_CUT_KEYS = ("cut_off", "truncated", "hit_max_new_tokens")
_LOOP_KEYS = ("repetition", "looping", "repeats")
_ANSWER_KEYS = ("extracted_answer", "answer", "pred", "prediction")


# --- fallbacks ---------------------------------------------------------------------------------------

def _last_answer(response: str) -> str | None:
    """The text of the last ``<answer>...</answer>`` block (the closing tag may be missing), or None."""
    start = response.rfind("<answer>")
    if start < 0:
        return None
    body = response[start + len("<answer>"):]
    end = body.find("</answer>")
    return (body if end < 0 else body[:end]).strip()


# --- reading the run directory ------------------------------------------------------------------------

def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:  # a damaged byte costs one line, not the report
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash: the rest of the file still reports
            if isinstance(row, dict):
                rows.append(row)
    return rows


def find_generations(run_dir: Path) -> Path | None:
    """``generations.jsonl`` of an evaluation, else the newest ``generations/step-N.jsonl`` of a run."""
    if (run_dir / "generations.jsonl").is_file():
        return run_dir / "generations.jsonl"
    steps = [(int(m.group(1)), p) for p in (run_dir / "generations").glob("step-*.jsonl")
             if (m := _STEP_FILE.search(p.name))]
    return max(steps)[1] if steps else None


def _number(v):
    """A finite float/int, or None (NaN and infinities do not survive JSON.parse)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v if math.isfinite(v) else None


def _numbers(row: dict, prefix: str = "", depth: int = 0):
    """(key, number) of a row's numeric values; dicts flattened as ``key.sub`` (two levels)."""
    for k, v in row.items():
        if isinstance(v, dict) and depth < 2:
            yield from _numbers(v, f"{prefix}{k}.", depth + 1)
        elif (v := _number(v)) is not None:
            yield f"{prefix}{k}", v


def _series(rows: list[dict], kind: str) -> dict[str, list[list[float]]]:
    """{key: [[step, value], ...]} for every numeric key of the rows of ``kind`` (nested dicts of
    numbers too: ``length_percentiles.correct.p50``)."""
    out: dict[str, list[list[float]]] = {}
    for r in rows:
        if r.get("kind") != kind or _number(r.get("step")) is None:
            continue
        for k, v in _numbers({k: v for k, v in r.items() if k not in ("step", "kind", "epoch")}):
            out.setdefault(k, []).append([r["step"], v])
    return out


def _scalar(v):
    return _number(v) if isinstance(v, float) else v


def _is_scalar(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _scalars(summary: dict, prefix: str = "", depth: int = 0) -> list[list]:
    """[[key, value], ...]: scalars as they are, dicts flattened as ``key.sub`` (two levels), short
    lists of numbers as one comma-separated value. Lists of dicts are :func:`_tables`."""
    rows = []
    for k, v in summary.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and depth < 2:
            rows += _scalars(v, key + ".", depth + 1)
        elif isinstance(v, list) and v and len(v) <= 32 and all(_number(x) is not None for x in v):
            rows.append([key, ", ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in v)])
        elif _is_scalar(v):
            rows.append([key, _scalar(v)])
    return rows


def _tables(summary: dict) -> list[dict]:
    """Lists of flat dicts in the summary (e.g. ``length_buckets``: lo, hi, count, accuracy) as
    ``{"name", "columns", "rows"}``."""
    tables = []
    for k, v in summary.items():
        if isinstance(v, list) and v and len(v) <= 100 and all(isinstance(x, dict) for x in v):
            columns = list(dict.fromkeys(c for x in v for c, y in x.items() if _is_scalar(y)))
            tables.append({"name": k, "columns": columns, "rows": [[_scalar(x.get(c)) for c in columns] for x in v]})
    return tables


def _histograms(summary: dict) -> list[dict]:
    """Lists of counts under a key naming a histogram (``solve_rate_histogram``: entry c = the
    prompts with c samples correct) as ``{"name", "counts"}``."""
    return [{"name": k, "counts": v} for k, v in summary.items()
            if "histogram" in k and isinstance(v, list) and 0 < len(v) <= 256
            and all(isinstance(x, int) and not isinstance(x, bool) for x in v)]


def _max_new_tokens(run_dir: Path, summary: dict) -> int | None:
    for key in ("max_new_tokens", "eval_max_new_tokens"):
        if isinstance(summary.get(key), int):
            return summary[key]
    config = run_dir / "config.yaml"
    if config.is_file():
        import yaml

        try:
            cfg = yaml.safe_load(config.read_text(encoding="utf-8", errors="replace"))
        except yaml.YAMLError:
            return None
        if isinstance(cfg, dict) and isinstance(cfg.get("eval_max_new_tokens"), int):
            return cfg["eval_max_new_tokens"]
    return None


def _clip(text, limit: int | None = None) -> str:
    limit = MAX_CHARS if limit is None else limit
    text = "" if text is None else text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"\n[... {len(text) - limit} more characters not shown]"


def _int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _records(rows: list[dict], max_new_tokens: int | None) -> tuple[list[dict], list[str], dict, list]:
    """The page's records (the first MAX_RECORDS; prompts as indices into the returned list of
    distinct prompts: K samples of one prompt share it), a note of which fields were computed here
    rather than read, and [length, correct] of every row (the histogram)."""
    known = [n for r in rows if (n := _int(r.get("response_length"))) is not None]
    longest = max(known) if known else None
    from .metrics import is_repetitive as repetitive  # what the evaluation's repetition_rate counts

    repetition_rule = "is_repetitive of tracesft.evaluate.metrics (what repetition_rate counts)"
    budget = min(MAX_CHARS, max(2000, MAX_TEXT_CHARS // max(1, 2 * min(len(rows), MAX_RECORDS))))
    sources = {"cut_off": set(), "looping": set(), "answer": set()}
    prompts: dict[str, int] = {}
    out, lengths = [], []
    for i, r in enumerate(rows):
        response = r.get("response") if isinstance(r.get("response"), str) else ""
        reward = r.get("reward") if isinstance(r.get("reward"), dict) else {}
        correct = r.get("correct")
        if not isinstance(correct, bool):
            correct = reward.get("answer_reward") == 1.0
        n = _int(r.get("response_length"))

        cut = next((r[k] for k in _CUT_KEYS if isinstance(r.get(k), bool)), None)
        if cut is not None:
            sources["cut_off"].add("record")
        elif max_new_tokens is not None and n is not None:
            cut = n >= max_new_tokens
            sources["cut_off"].add(f"response_length >= max_new_tokens ({max_new_tokens})")
        else:
            cut = n is not None and n == longest and "</answer>" not in response
            sources["cut_off"].add(f"no </answer> and the longest length in the file ({longest} tokens)")

        loop = next((bool(r[k]) for k in _LOOP_KEYS if isinstance(r.get(k), (bool, int, float))), None)
        if loop is not None:
            sources["looping"].add("record")
        else:
            loop = repetitive(response)
            sources["looping"].add(repetition_rule)

        key = next((k for k in _ANSWER_KEYS if k in r and (r[k] is None or isinstance(r[k], str))), None)
        if key is not None:  # the grader's answer, None when it found none
            answer = r[key]
            sources["answer"].add("record")
        else:
            answer = _last_answer(response)
            sources["answer"].add("the last <answer> block")

        lengths.append([n if n is not None else len(response), bool(correct)])
        if len(out) >= MAX_RECORDS:
            continue  # counted in the notes and the histogram, not embedded
        prompt = _clip(r.get("prompt"), budget)
        index = prompts.setdefault(prompt, len(prompts))
        out.append({"i": i, "p": index, "response": _clip(response, budget),
                    "answer": _clip(answer, 2000) if answer is not None else None,
                    "truth": _clip(r.get("ground_truth"), 2000), "correct": bool(correct), "cut": bool(cut),
                    "loop": bool(loop), "n": n, "prompt_index": _int(r.get("prompt_index")),
                    "sample": _int(r.get("sample_index", r.get("sample")))})
    notes = {k: ("from the records" if v == {"record"} else "computed here: " + "; ".join(sorted(v - {"record"})))
             for k, v in sources.items() if v}
    return out, list(prompts), notes, lengths


def collect(run_dir) -> dict:
    """Everything the page shows, as plain JSON-able data."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserInputError(f"{run_dir}: not a directory (give a run directory of tracesft train or eval)")
    metrics_path, summary_path = run_dir / "metrics.jsonl", run_dir / "summary.json"
    gen_path = find_generations(run_dir)
    if not metrics_path.is_file() and not summary_path.is_file() and gen_path is None:
        raise UserInputError(f"{run_dir}: no metrics.jsonl, summary.json or generations to report on "
                             "(is it a run directory of tracesft train or eval?)")
    metrics = _read_jsonl(metrics_path) if metrics_path.is_file() else []
    summary = {}
    if summary_path.is_file():
        try:
            loaded = json.loads(summary_path.read_text(encoding="utf-8", errors="replace"))
            summary = loaded if isinstance(loaded, dict) else {}
        except json.JSONDecodeError as e:
            raise UserInputError(f"{summary_path}: not JSON ({e.msg}, line {e.lineno})") from None
    records, prompts, notes, lengths = [], [], {}, []
    if gen_path is not None:
        records, prompts, notes, lengths = _records(_read_jsonl(gen_path), _max_new_tokens(run_dir, summary))
    return {
        "title": str(run_dir.resolve().name),
        "run_dir": str(run_dir),
        "train": _series(metrics, "train"),
        "eval": _series(metrics, "eval"),
        "summary": _scalars(summary),
        "tables": _tables(summary),
        "histograms": _histograms(summary),
        "generations_file": str(gen_path.relative_to(run_dir)) if gen_path is not None else None,
        "n_records": len(lengths),
        "lengths": lengths,
        "records": records,
        "prompts": prompts,
        "notes": notes,
    }


def _json_for_script(data) -> str:
    """JSON that cannot end its <script> element or open a comment: <, > and & as \\u escapes."""
    text = json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build_report(run_dir) -> str:
    """The HTML text of the report of ``run_dir``."""
    import html

    from .report_page import PAGE

    data = collect(run_dir)
    fill = {"{{TITLE}}": html.escape(f"tracesft report: {data['title']}"), "{{DATA}}": _json_for_script(data)}
    return re.sub(r"\{\{(?:TITLE|DATA)\}\}", lambda m: fill[m.group(0)], PAGE)  # one pass: no text is filled twice


def write_report(run_dir) -> Path:
    """Write ``RUN_DIR/report.html`` atomically; returns its path."""
    path = Path(run_dir) / REPORT_NAME
    write_text_atomic(path, build_report(run_dir))
    return path


def write_report_quietly(run_dir) -> Path | None:
    """:func:`write_report`, but a failure is one warning line, never the run's failure."""
    try:
        return write_report(run_dir)
    except Exception as e:  # noqa: BLE001 - the report is a by-product: the run's results stand without it
        log.warning("could not write %s in %s: %s: %s", REPORT_NAME, run_dir, type(e).__name__, e)
        return None
