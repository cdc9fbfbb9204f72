"""The one benchmark harness: each case in a fresh process, cases alternating for N rounds, medians
with their spread, the child's peak RSS, and a JSON result under ``benchmarks/results/``.

A benchmark script lists its cases and runs them::

    import harness
    cases = [harness.Case("plain", [__file__, "--case", "plain"]),
             harness.Case("fused", [__file__, "--case", "fused"])]
    result = harness.run(cases, rounds=3, params=vars(args))
    harness.print_summary(result, ["seconds", "peak_rss"])
    print(harness.write_result("logprobs", result))

and, in the child (``--case``), measures and reports its figures with ``harness.emit({...})`` (one
``RESULT {json}`` line on stdout). Round r runs every case once, in order, before round r + 1, so
a drift of the machine's speed spreads over all cases alike.

Per run the harness adds ``wall_s`` (the clock around the child, from spawn to exit) and ``peak_rss`` (bytes:
the largest resident set of the child or of any process it waited for, e.g. grader workers, from
``os.wait4``; the largest single process, not a sum). Every numeric figure is summarised as
median, min, max and n. A result also records the command line, the git commit (and whether
tracked files differed from it), the date, the CPU model, core count and load average, and the
python, torch and transformers versions of each interpreter the cases ran under.

Benchmarks measured in-process (grading accuracy) store theirs with ``record(figures, params)``
and ``write_result``. ``write_result`` never overwrites: NAME-YYYY-MM-DD.json, or, when that
exists, NAME-YYYY-MM-DD-HHMMSS.json (then -2, -3, ...); written to a temporary file and linked
into place.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Case", "CaseFailed", "run", "record", "emit", "write_result", "summarize", "print_summary",
           "median", "add_arguments", "finish", "peak_rss_self", "rss_now", "environment", "RESULTS_DIR"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
RESULT_PREFIX = "RESULT "
SCHEMA = 1


@dataclass
class Case:
    """One variant to measure: ``python argv...`` in a fresh process, with ``env`` added to the
    environment (e.g. ``{"PYTHONPATH": "OLD/src"}`` for a baseline) and ``python`` the interpreter
    (default: the one running the harness)."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    python: str | None = None


class CaseFailed(RuntimeError):
    """A case's process exited non-zero or reported no ``RESULT`` line."""


# ---------------------------------------------------------------- child side


def emit(figures: dict) -> None:
    """Report a case's figures to the harness (call once, at the end of the child)."""
    print(RESULT_PREFIX + json.dumps(figures), flush=True)


def peak_rss_self() -> int:
    """This process's peak resident set so far, bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def rss_now() -> int:
    """This process's resident set now, bytes (Linux: /proc; elsewhere psutil)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss


# ---------------------------------------------------------------- parent side


def _git() -> dict:
    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30)

    try:
        head = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if head.returncode != 0:
        return {"commit": None, "dirty": None}
    changed = status.stdout.splitlines()
    return {"commit": head.stdout.strip(), "dirty": bool(changed), "changed": changed[:50]}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_total() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


_VERSIONS_CODE = """
import importlib.metadata as m, json, platform
v = {"python": platform.python_version()}
for p in ("torch", "transformers", "tracesft", "trl", "vllm"):
    try:
        v[p] = m.version(p)
    except m.PackageNotFoundError:
        pass
print(json.dumps(v))
"""


def _versions(python: str, env: dict | None = None) -> dict:
    """Package versions as ``python`` sees them (without importing the packages)."""
    proc = subprocess.run([python, "-c", _VERSIONS_CODE], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)
    return json.loads(proc.stdout) if proc.returncode == 0 else {"error": proc.stderr[-500:]}


def environment() -> dict:
    """Where and from what a result was measured."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "command": shlex.join([sys.executable, *sys.argv]),
        "cwd": os.getcwd(),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "git": _git(),
        "machine": {"cpu_model": _cpu_model(), "cpu_count": os.cpu_count(), "usable_cores": usable,
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
                    "memory_total": _memory_total(), "platform": platform.platform()},
        "versions": {sys.executable: _versions(sys.executable)},
    }


# Starts the case and reports its rusage. Linux seeds a new process's peak RSS with the resident
# set of the process it was forked from (exec keeps the old image's high-water mark), so a case
# spawned straight from a large parent (pytest with torch, say) would report at least that parent's
# size. Forked from this small launcher instead, the case's peak is its own.
_LAUNCHER = """
import json, os, sys, time
t0 = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"status": os.waitstatus_to_exitcode(status), "maxrss": usage.ru_maxrss,
               "wall": time.perf_counter() - t0}, f)
"""


def _run_once(case: Case, timeout: float | None) -> dict:
    python = case.python or sys.executable
    with tempfile.TemporaryDirectory(prefix="tracesft-harness-") as tmp:
        report = Path(tmp) / "rusage.json"
        with open(Path(tmp) / "stdout", "w+") as out, open(Path(tmp) / "stderr", "w+") as err:
            proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(report), python, *case.argv],
                                    stdout=out, stderr=err, env={**os.environ, **case.env}, start_new_session=True)
            try:
                proc.wait(timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the case
                proc.wait()
                timed_out = True
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        usage = json.loads(report.read_text()) if report.exists() else {"status": proc.returncode}
    lines = [x for x in stdout.splitlines() if x.startswith(RESULT_PREFIX)]
    if timed_out or usage["status"] != 0 or not lines:
        why = f"timed out after {timeout} s" if timed_out else f"exit status {usage['status']}"
        raise CaseFailed(f"case {case.name} ({why}): {shlex.join([python, *case.argv])}\n{stderr[-3000:]}")
    figures = json.loads(lines[-1][len(RESULT_PREFIX):])
    peak = usage["maxrss"] if sys.platform == "darwin" else usage["maxrss"] * 1024
    own = {"wall_s": usage["wall"], "peak_rss": peak}
    return {**own, **{k: v for k, v in figures.items() if k not in own}}  # the harness's own figures win


def summarize(runs: list[dict]) -> dict:
    """median, min, max and n of every numeric (non-bool) figure of ``runs``."""
    keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float)) and not isinstance(runs[0][k], bool)]
    out = {}
    for k in keys:
        values = [r[k] for r in runs if isinstance(r.get(k), (int, float))]
        if values:
            out[k] = {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}
    return out


def run(cases: list[Case], rounds: int = 3, *, params: dict | None = None, timeout: float | None = None,
        verbose: bool = True) -> dict:
    """Run every case ``rounds`` times, alternating (round 1: all cases, round 2: all cases, ...);
    each run a fresh process. Returns the result: environment, params, and per case its argv, env,
    every run's figures and their summary. Raises :class:`CaseFailed` on a failing run."""
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise ValueError(f"case names must be unique: {names}")
    result = {"schema": SCHEMA, **environment(), "params": params or {}, "rounds": rounds, "cases": {}}
    for c in cases:
        python = c.python or sys.executable
        key = python if not c.env else f"{python} with {json.dumps(c.env, sort_keys=True)}"
        if key not in result["versions"]:
            result["versions"][key] = _versions(python, c.env)
        result["cases"][c.name] = {"argv": c.argv, "env": c.env, "python": python, "runs": []}
    for r in range(rounds):
        for c in cases:
            figures = {"round": r + 1, **_run_once(c, timeout)}
            result["cases"][c.name]["runs"].append(figures)
            if verbose:
                shown = ", ".join(f"{k} {_fmt(k, v)}" for k, v in figures.items()
                                  if k != "round" and isinstance(v, (int, float)) and not isinstance(v, bool))
                print(f"round {r + 1} {c.name}: {shown}", flush=True)
    for c in result["cases"].values():
        c["summary"] = summarize(c["runs"])
    return result


def record(figures: dict, params: dict | None = None) -> dict:
    """A result for a benchmark measured in this process (no cases): environment, params, figures."""
    return {"schema": SCHEMA, **environment(), "params": params or {}, "figures": figures}


def median(result: dict, case: str, figure: str) -> float:
    return result["cases"][case]["summary"][figure]["median"]


def _fmt(key: str, v: float) -> str:
    if "rss" in key or key.endswith("_bytes"):
        return f"{v / 2**30:.2f}Gi"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def print_summary(result: dict, figures: list[str] | None = None) -> None:
    """One line per case: each figure's median [min-max] over the rounds (RSS and *_bytes in GiB)."""
    print(f"median [min-max] of {result['rounds']} rounds, each case a fresh process")
    for name, c in result["cases"].items():
        s = c["summary"]
        keys = [k for k in (figures or s) if k in s and k != "round"]
        cells = [f"{k} {_fmt(k, s[k]['median'])} [{_fmt(k, s[k]['min'])}-{_fmt(k, s[k]['max'])}]" for k in keys]
        print(f"  {name}: " + ", ".join(cells))


def _result_path(directory: Path, name: str, when: _dt.datetime) -> Path:
    path = directory / f"{name}-{when:%Y-%m-%d}.json"
    if not path.exists():
        return path
    path = directory / f"{name}-{when:%Y-%m-%d-%H%M%S}.json"
    n = 2
    while path.exists():
        path = directory / f"{name}-{when:%Y-%m-%d-%H%M%S}-{n}.json"
        n += 1
    return path


def write_result(name: str, result: dict, directory: str | Path | None = None) -> Path:
    """Write ``result`` as JSON to DIRECTORY/NAME-YYYY-MM-DD.json (a time suffix when that exists);
    never overwrites an existing file. Returns the path."""
    directory = Path(directory) if directory is not None else RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    result = {"name": name, **result}
    data = json.dumps(result, indent=1, default=str) + "\n"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        when = _dt.datetime.now()
        while True:
            path = _result_path(directory, name, when)
            try:
                os.link(tmp, path)  # fails if path exists (a rename would replace it)
                return path
            except FileExistsError:
                continue
    finally:
        os.unlink(tmp)


def add_arguments(ap, rounds: int = 3) -> None:
    """The options every benchmark script shares: --rounds, --results, --no-save."""
    ap.add_argument("--rounds", type=int, default=rounds, help="rounds of alternating cases (default %(default)s)")
    ap.add_argument("--results", default=str(RESULTS_DIR), metavar="DIR",
                    help="where the JSON result goes (default benchmarks/results)")
    ap.add_argument("--no-save", action="store_true", help="print only; write no result file")


def finish(name: str, result: dict, args) -> Path | None:
    """Write the result unless --no-save, and say where."""
    if getattr(args, "no_save", False):
        return None
    path = write_result(name, result, args.results)
    print(f"result: {os.path.relpath(path)}")
    return path
