"""`tracesft report`: the page's data, escaping, fallbacks, the CLI (no browser here: see test_report_browser)."""

import json
import logging
import re

import pytest
from helpers.report import HOSTILE, MAX_NEW_TOKENS, N_CORRECT, RECORDS, build_run_dir

from tracesft.cli import main
from tracesft.evaluate.report import build_report, collect, write_report, write_report_quietly


def _page_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_hostile_response_stays_text(tmp_path):
    html = build_report(build_run_dir(tmp_path / "run"))
    # The only </script> are the two elements' own ends: the response cannot close the data element.
    assert html.count("</script>") == 2
    assert "alert(1)" not in html.split('id="report-data">')[0]  # nowhere before the data
    data_text = re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in data_text and ">" not in data_text and "&" not in data_text
    assert "<b>runs/x/final</b>" not in html  # a summary string too
    data = _page_data(html)
    hostile = [r for r in data["records"] if r["response"] == HOSTILE]
    assert len(hostile) == 1 and hostile[0]["answer"] == "<b>3</b>"  # round-trips exactly
    assert "innerHTML" not in html and "outerHTML" not in html and "insertAdjacentHTML" not in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert "default-src 'none'" in html  # the CSP: nothing is fetched


def test_title_is_escaped_and_filled_once(tmp_path):
    run = build_run_dir(tmp_path / "<i>{{DATA}}")
    html = build_report(run)
    assert "<title>tracesft report: &lt;i&gt;{{DATA}}</title>" in html
    _page_data(html)  # still one valid data element


def test_collect_reads_curves_summary_and_newest_generations(tmp_path):
    data = collect(build_run_dir(tmp_path / "run"))
    assert [p[0] for p in data["train"]["loss"]] == list(range(1, 13))  # the NaN row and the cut line are skipped
    for key in ("accuracy", "pass@1", "pass@8", "avg@8", "maj@8", "cutoff_rate", "repetition_rate"):
        assert [p[0] for p in data["eval"][key]] == [0, 6, 12], key
    assert "solve_rate_histogram" not in data["eval"] and "length_buckets" not in data["eval"]  # not numbers
    assert data["eval"]["length_percentiles.correct.p50"] == [[0, 15.0], [6, 14.0], [12, 13.0]]
    summary = dict(data["summary"])
    assert summary["eval_pass@8"] == 0.85 and summary["eval_cutoff_rate"] == 0.1
    assert summary["eval_length_percentiles.p90"] == 40  # a dict of scalars, flattened
    assert data["generations_file"] == "generations/step-00000012.jsonl"  # not the older step-6 file
    assert data["n_records"] == len(data["records"]) == len(RECORDS)
    assert sum(r["correct"] for r in data["records"]) == N_CORRECT
    # cut off: response_length >= eval_max_new_tokens of config.yaml
    assert [r["i"] for r in data["records"] if r["cut"]] == [i for i, r in enumerate(RECORDS)
                                                             if r["response_length"] >= MAX_NEW_TOKENS]
    assert [r["i"] for r in data["records"] if r["loop"]] == [6]
    assert "max_new_tokens (40)" in data["notes"]["cut_off"]
    assert data["records"][0]["answer"] == "3" and data["records"][7]["answer"] is None


def test_record_fields_win_over_fallbacks(tmp_path):
    run = tmp_path / "eval"
    run.mkdir()
    rows = [dict(RECORDS[6], cut_off=False, repetition=False, extracted_answer="11"),
            dict(RECORDS[0], cut_off=True, repetition=True)]
    (run / "generations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = collect(run)
    assert [(r["cut"], r["loop"], r["answer"]) for r in data["records"]] == [(False, False, "11"), (True, True, "3")]
    assert data["notes"]["cut_off"] == data["notes"]["looping"] == "from the records"
    assert data["train"] == {} and data["summary"] == []


def test_eval_directory_with_samples(tmp_path):
    data = collect(build_run_dir(tmp_path / "ev", eval_dir=True))
    assert data["train"] == data["eval"] == {}
    assert data["generations_file"] == "generations.jsonl"
    summary = dict(data["summary"])
    assert summary["pass@2"] == 0.8 and summary["solve_rate_histogram"] == "1, 2, 2"
    assert summary["length_percentiles.incorrect.p50"] == 35.0
    assert data["tables"] == [{"name": "length_buckets", "columns": ["lo", "hi", "count", "accuracy"],
                               "rows": [[0, 10, 0, None], [11, 20, 7, 0.857], [21, 30, 1, 0.0], [31, 40, 2, 0.0]]}]
    assert data["histograms"] == [{"name": "solve_rate_histogram", "counts": [1, 2, 2]}]
    # the two samples of a prompt share one copy of it
    assert len(data["prompts"]) == 5 and [r["p"] for r in data["records"]] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert [(r["prompt_index"], r["sample"]) for r in data["records"]][:3] == [(0, 0), (0, 1), (1, 0)]
    # the records' own fields: hit_max_new_tokens, and the grader's answer (None: it found none)
    assert [r["i"] for r in data["records"] if r["cut"]] == [6, 7]
    assert data["records"][6]["answer"] is None and data["records"][8]["answer"] == "<b>3</b>"
    assert data["notes"]["cut_off"] == data["notes"]["answer"] == "from the records"


def test_fallbacks_without_fields_or_limit(tmp_path):
    run = tmp_path / "ev"
    run.mkdir()
    (run / "generations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    data = collect(run)
    # no max_new_tokens known: cut off = no </answer> and the longest length in the file
    assert [r["i"] for r in data["records"] if r["cut"]] == [6, 7]
    assert "longest length in the file (40 tokens)" in data["notes"]["cut_off"]
    assert data["notes"]["answer"] == "computed here: the last <answer> block"
    assert data["records"][5]["answer"] == "17" and data["records"][6]["answer"] is None


def test_cli_report_and_errors(tmp_path, capsys):
    run = build_run_dir(tmp_path / "run")
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").is_file() and f"wrote {run / 'report.html'}" in capsys.readouterr().out
    assert not [p for p in run.iterdir() if p.name.startswith(".report")]  # no temporary file left
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "no metrics.jsonl, summary.json or generations" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()


def test_quiet_writer_logs_one_warning(tmp_path, caplog):
    run = build_run_dir(tmp_path / "run")
    (run / "summary.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert write_report_quietly(run) is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "report.html" in warnings[0].getMessage()
    assert not (run / "report.html").exists()
    (run / "summary.json").write_text("{}")
    assert write_report_quietly(run) == write_report(run) == run / "report.html"


def test_records_are_capped(tmp_path, monkeypatch):
    import tracesft.evaluate.report as report

    monkeypatch.setattr(report, "MAX_RECORDS", 3)
    monkeypatch.setattr(report, "MAX_CHARS", 20)
    data = collect(build_run_dir(tmp_path / "run"))
    assert len(data["records"]) == 3 and data["n_records"] == len(RECORDS) == len(data["lengths"])
    assert [x[0] for x in data["lengths"]] == [r["response_length"] for r in RECORDS]
    assert data["prompts"][0].endswith("more characters not shown]")
    monkeypatch.setattr(report, "MAX_CHARS", 100_000)  # the total budget decides: 1 record, 2 texts of 2,500
    monkeypatch.setattr(report, "MAX_TEXT_CHARS", 5000)
    (tmp_path / "run" / "generations" / "step-00000012.jsonl").write_text(
        json.dumps(dict(RECORDS[0], response="x" * 5000)) + "\n")
    assert collect(tmp_path / "run")["records"][0]["response"] == "x" * 2500 + "\n[... 2500 more characters not shown]"


@pytest.mark.parametrize("eval_dir", [False, True])
def test_report_is_one_file(tmp_path, eval_dir):
    html = build_report(build_run_dir(tmp_path / "run", eval_dir=eval_dir))
    assert "<script src" not in html and "<link" not in html and "@import" not in html


def test_training_survives_a_failing_report(setup_dir, tmp_path, monkeypatch, caplog):
    from helpers.train import make_cfg

    import tracesft.evaluate.report as report
    from tracesft.train import train

    def broken(run_dir):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "build_report", broken)
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        summary = train(make_cfg(setup_dir, out, max_steps=2))
    assert summary["steps"] == 2 and (out / "summary.json").is_file() and not (out / "report.html").exists()
    assert [r.getMessage() for r in caplog.records if "report.html" in r.getMessage()] == \
        [f"could not write report.html in {out}: OSError: [Errno 28] No space left on device"]


def test_eval_writes_the_report(tmp_path, capsys):
    from helpers.train import tiny_model_dir

    model_dir = tiny_model_dir(tmp_path / "m")
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "1 + 2", "ground_truth": "3"}\n{"prompt": "2 + 2", "ground_truth": "4"}\n')
    out = tmp_path / "ev"
    argv = ["eval", "--model", str(model_dir), "--data", str(data), "--max-new-tokens", "4", "--out", str(out)]
    assert main(argv) == 0
    assert f"wrote {out / 'report.html'}" in capsys.readouterr().out
    page = _page_data((out / "report.html").read_text())
    assert page["generations_file"] == "generations.jsonl" and len(page["records"]) == 2
