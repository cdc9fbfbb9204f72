"""`tracesft report` in a real headless browser (Debian's chromium; `make setup-browser` installs it).

The page is loaded from file:// with its script running; the DOM after the script (--dump-dom) is
checked, console messages (--enable-logging=stderr: every console call, uncaught error and CSP
violation is an ``INFO:CONSOLE`` line) must be none, and a screenshot is saved in the test's tmp dir.
"""

import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from helpers.report import HOSTILE, N_CORRECT, RECORDS, build_run_dir

from tracesft.cli import main

pytestmark = pytest.mark.slow

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    pytest.skip("no chromium on PATH: `make setup-browser` installs Debian's chromium with apt-get "
                "(it needs root or passwordless sudo); the browser test cannot run without it")


def _chromium(tmp_path, url: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [_browser(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class _Dom(HTMLParser):
    """Elements as (tag, attrs), and the text inside each element with an id."""

    def __init__(self, html: str):
        super().__init__()
        self.elements, self.text, self._open = [], {}, []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if tag in ("br", "img", "input", "meta", "col", "link"):
            return
        self._open.append((tag, attrs.get("id")))

    def handle_endtag(self, tag):
        while self._open:
            t, _ = self._open.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, ident in self._open:
            if ident:
                self.text[ident] = self.text.get(ident, "") + data

    def find(self, tag, **attrs):
        return [a for t, a in self.elements if t == tag and all(a.get(k.replace("_", "-")) == v
                                                                 for k, v in attrs.items())]


def _load(tmp_path, report, fragment: str = "") -> _Dom:
    result = _chromium(tmp_path, report.as_uri() + fragment, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _console(result.stderr) == [], _console(result.stderr)
    dom = _Dom(result.stdout)
    assert dom.find("body", data_ready="1"), "the page's script did not run to its end"
    return dom


def test_report_renders_in_chromium(tmp_path):
    run = build_run_dir(tmp_path / "run")
    assert main(["report", str(run)]) == 0
    report = run / "report.html"

    dom = _load(tmp_path, report)
    # curves: one SVG path per series, with every point
    lines = {a["data-series"]: a for a in dom.find("path", **{"class": "line"})}
    for series, points in (("loss", 12), ("lr", 12), ("accuracy", 3), ("pass@1", 3), ("pass@8", 3), ("avg@8", 3),
                           ("maj@8", 3), ("cutoff_rate", 3), ("repetition_rate", 3), ("tokens_per_second", 3)):
        assert series in lines, series
        assert int(lines[series]["data-points"]) == points
        assert lines[series]["d"].count("L") == points - 1 and lines[series]["d"].startswith("M")
    # the summary table, the histogram (correct and incorrect bars), the rows
    keys = {a["data-key"] for a in dom.find("tr") if "data-key" in a}
    assert {"eval_pass@8", "eval_cutoff_rate", "eval_repetition_rate", "final_model"} <= keys
    assert dom.find("rect", **{"class": "bar-correct"}) and dom.find("rect", **{"class": "bar-incorrect"})
    rows = [a for a in dom.find("tr") if a.get("class", "").startswith("gen")]
    assert len(rows) == len(RECORDS)
    assert f"{len(RECORDS)} of {len(RECORDS)} shown" in dom.text["gen-count"]
    # the hostile response is text: no element of it exists, its characters are in the table
    assert not [a for t, a in dom.elements if t == "img"]
    assert len(dom.find("script")) == 2
    assert HOSTILE.split(" </think>")[0] in dom.text["generations"]
    assert dom.find("span", **{"class": "seg-answer"}) and dom.find("span", **{"class": "tag think"})

    # filters, applied by the page's script from the URL's fragment
    expected = {"incorrect": len(RECORDS) - N_CORRECT, "correct": N_CORRECT, "cutoff": 2, "looping": 1}
    for name, n in expected.items():
        dom = _load(tmp_path, report, f"#filter={name}")
        rows = [a for a in dom.find("tr") if a.get("class", "").startswith("gen")]
        assert len(rows) == n, name
        assert dom.find("body", data_filter=name)
        assert dom.find("button", data_filter=name)[0]["class"] == "active"
        if name == "incorrect":
            assert all(a["data-correct"] == "false" for a in rows)
        if name == "cutoff":
            assert all(a["data-cut"] == "true" for a in rows)
    dom = _load(tmp_path, report, "#q=9%20plus%209")
    assert [a["data-index"] for a in dom.find("tr") if a.get("class", "").startswith("gen")] == ["5"]

    shot = tmp_path / "report.png"
    result = _chromium(tmp_path, report.as_uri(), "--window-size=1400,2400", f"--screenshot={shot}")
    assert result.returncode == 0 and _console(result.stderr) == []
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 1400
    assert len(png) > 50_000  # a page of charts and rows, not a blank one
    print(f"screenshot: {shot}")


def test_evaluation_directory_renders(tmp_path):
    run = build_run_dir(tmp_path / "ev", eval_dir=True)
    assert main(["report", str(run)]) == 0
    dom = _load(tmp_path, run / "report.html")
    assert not dom.find("path", **{"class": "line"})
    assert "no curves" in dom.text["curves"]
    assert len([a for a in dom.find("tr") if a.get("class", "").startswith("gen")]) == len(RECORDS)
    assert len(dom.find("rect", **{"class": "count-bar"})) == 3  # solve_rate_histogram [1, 2, 2]
    assert dom.find("table", data_table="length_buckets")
    assert "prompts by samples correct (of 2)" in dom.text["count-histograms"]
    dom = _load(tmp_path, run / "report.html", "#filter=cutoff")  # hit_max_new_tokens of the records
    assert [a["data-index"] for a in dom.find("tr") if a.get("class", "").startswith("gen")] == ["6", "7"]
    result = _chromium(tmp_path, (run / "report.html").as_uri(), "--window-size=1400,1600",
                       f"--screenshot={tmp_path / 'eval-report.png'}")
    assert result.returncode == 0 and (tmp_path / "eval-report.png").stat().st_size > 50_000
