"""Time-bounded execution of the symbolic grader in worker processes.

Symbolic comparison (parsing LaTeX with latex2sympy2's ANTLR parser, then sympy) can take
unbounded time or memory on hostile answers (``9^9^9^9``, ``(99!)!``, ``2^{2^{40}}``). It therefore
runs in a separate worker process; a call that does not answer within its deadline gets its worker
killed (and replaced on the next call) and returns ``TIMED_OUT``. Unlike ``signal.alarm`` this
works from any thread. Workers are fresh interpreters (``python -m tracesft.grading.sandbox``, no fork, so safe with
threads), kept idle between calls, and one caller uses a worker at a time, so concurrent threads grade in parallel.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading

__all__ = ["run_bounded", "TIMED_OUT", "shutdown", "prestart"]

TIMED_OUT = "timed_out"
_START_TIMEOUT_S = 60.0  # a fresh worker imports sympy and the LaTeX parser first
_MAX_IDLE = max(2, os.cpu_count() or 2)


def _worker_main() -> None:
    """Worker loop: one JSON request per stdin line, one JSON reply per stdout line."""
    from . import symbolic

    functions = {"symbolic_equal": symbolic.symbolic_equal}
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            result = functions[request["f"]](*request["a"])
        except Exception:  # a failing comparison is "not equal", never a crash of the worker
            result = False
        out.write(json.dumps(result) + "\n")
        out.flush()


class _Worker:
    """A grader process started with ``python -m tracesft.grading.sandbox`` (no fork of the caller,
    so it is safe from threads, notebooks and scripts read from stdin)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tracesft.grading.sandbox"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, bufsize=1,
        )
        self.ready = False

    def _readline(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, timeout))
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return line if line else None

    def wait_ready(self) -> bool:
        if not self.ready:
            self.ready = self._readline(_START_TIMEOUT_S) == "ready\n"
        return self.ready

    def call(self, name: str, args: tuple, timeout: float):
        self.proc.stdin.write(json.dumps({"f": name, "a": list(args)}) + "\n")
        self.proc.stdin.flush()
        line = self._readline(timeout)
        if line is None:
            raise TimeoutError
        return json.loads(line)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=1.0)
        except Exception:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:
                pass


_lock = threading.Lock()
_idle: list[_Worker] = []


def _acquire() -> _Worker:
    with _lock:
        while _idle:
            w = _idle.pop()
            if w.alive():
                return w
            w.kill()
    return _Worker()


def _release(w: _Worker) -> None:
    with _lock:
        if len(_idle) < _MAX_IDLE:
            _idle.append(w)
            return
    w.kill()


def prestart(n: int = 1) -> None:
    """Start n idle workers now (in the background), so the first calls do not wait for imports."""
    workers = [_Worker() for _ in range(n)]
    for w in workers:
        _release(w)


def run_bounded(name: str, args: tuple, timeout: float):
    """Run a whitelisted grader function in a worker; its result, or TIMED_OUT after ``timeout`` s.

    The time counts from when a ready worker receives the job: the start-up of a fresh worker
    (about 1-2 s, importing sympy and the parser; once per process, and in the background after a
    kill) is not charged to the call. Never raises for a slow or crashing job.
    """
    w = _acquire()
    try:
        if not w.wait_ready():
            raise OSError("grader worker did not start")
        result = w.call(name, args, timeout)
    except (TimeoutError, OSError, ValueError):
        w.kill()
        _release(_Worker())  # start the replacement now, so the next call need not wait for it
        return TIMED_OUT
    _release(w)
    return result


def shutdown() -> None:
    """Kill all idle workers (also done at interpreter exit)."""
    with _lock:
        workers, _idle[:] = list(_idle), []
    for w in workers:
        w.kill()


atexit.register(shutdown)


if __name__ == "__main__":
    _worker_main()
