"""benchmarks/harness.py: fresh process per case, alternating rounds, medians, per-child peak RSS,
and result files that are complete and never overwritten."""

import importlib.util
import json
import re
import statistics
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "harness.py"
_spec = importlib.util.spec_from_file_location("bench_harness", _PATH)
harness = importlib.util.module_from_spec(_spec)
sys.modules["bench_harness"] = harness  # dataclasses look the module up by name
_spec.loader.exec_module(harness)

# A child that allocates MIB mebibytes, reports a figure that differs run to run, and an env var.
CHILD = ("import json, os, time; b = bytearray({mib} * 2**20); b[::4096] = b'x' * len(b[::4096]); "
         "print('noise'); print('RESULT ' + json.dumps({{'value': time.perf_counter_ns() % 1000, "
         "'tag': os.environ.get('BENCH_TAG', ''), 'size': len(b)}}))")


@pytest.fixture(scope="module")
def result():
    cases = [harness.Case("big", ["-c", CHILD.format(mib=200)], env={"BENCH_TAG": "big"}),
             harness.Case("small", ["-c", CHILD.format(mib=1)])]
    return harness.run(cases, rounds=2, params={"what": "test"}, verbose=False)


def test_result_records_where_and_what(result):
    assert result["params"] == {"what": "test"} and result["rounds"] == 2
    assert result["command"] and re.match(r"\d{4}-\d\d-\d\dT", result["date"])
    assert re.fullmatch(r"[0-9a-f]{40}", result["git"]["commit"]) and isinstance(result["git"]["dirty"], bool)
    m = result["machine"]
    assert m["cpu_model"] and m["cpu_count"] >= 1 and m["usable_cores"] >= 1
    for versions in result["versions"].values():
        assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
        assert {"torch", "transformers"} <= set(versions)
    assert result["cases"]["big"]["env"] == {"BENCH_TAG": "big"}


def test_runs_alternate_and_medians_are_the_runs_medians(result):
    for name, tag in (("big", "big"), ("small", "")):
        case = result["cases"][name]
        assert [r["round"] for r in case["runs"]] == [1, 2]
        assert all(r["tag"] == tag for r in case["runs"])
        for figure in ("value", "wall_s", "peak_rss"):
            values = [r[figure] for r in case["runs"]]
            s = case["summary"][figure]
            assert s["median"] == statistics.median(values)
            assert (s["min"], s["max"], s["n"]) == (min(values), max(values), 2)
        assert "tag" not in case["summary"]  # only numbers are summarised


def test_peak_rss_is_each_childs_own(result):
    big = [r["peak_rss"] for r in result["cases"]["big"]["runs"]]
    small = [r["peak_rss"] for r in result["cases"]["small"]["runs"]]
    assert min(small) > 0
    assert min(big) >= 200 * 2**20
    # "small" runs after "big" in each round: a cumulative peak over all children would equal big's
    assert max(small) < min(big) - 150 * 2**20


def test_write_result_never_overwrites(result, tmp_path):
    first = harness.write_result("trivial", result, tmp_path)
    text = first.read_text()
    second = harness.write_result("trivial", result, tmp_path)
    third = harness.write_result("trivial", result, tmp_path)
    assert re.fullmatch(r"trivial-\d{4}-\d\d-\d\d\.json", first.name)
    assert re.fullmatch(r"trivial-\d{4}-\d\d-\d\d-\d{6}(-\d+)?\.json", second.name)
    assert len({first, second, third}) == 3 and first.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (first, second, third))  # no temp
    stored = json.loads(text)
    assert stored["name"] == "trivial" and stored["cases"]["big"]["runs"] == result["cases"]["big"]["runs"]


def test_failing_case_says_which_and_why():
    with pytest.raises(harness.CaseFailed, match="broken.*exit status 3.*boom"):
        harness.run([harness.Case("broken", ["-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])],
                    rounds=1, verbose=False)
    with pytest.raises(harness.CaseFailed, match="silent"):  # exit 0 but no RESULT line
        harness.run([harness.Case("silent", ["-c", "print('hi')"])], rounds=1, verbose=False)


def test_peak_rss_covers_the_cases_own_subprocesses():
    """A case whose work happens in a child of its own (grader workers) reports that child's peak."""
    grandchild = CHILD.format(mib=200)
    code = (f"import subprocess, sys; p = subprocess.run([sys.executable, '-c', {grandchild!r}], capture_output=True, "
            "text=True); print(p.stdout.splitlines()[-1])")
    result = harness.run([harness.Case("parent", ["-c", code])], rounds=1, verbose=False)
    assert result["cases"]["parent"]["runs"][0]["peak_rss"] >= 200 * 2**20
