"""Time-bounded execution of the symbolic grader in worker processes.

Symbolic comparison (parsing LaTeX with latex2sympy2's ANTLR parser, then sympy) can take
unbounded time or memory on hostile answers (``9^9^9^9``, ``(99!)!``, ``2^{2^{40}}``). It therefore
runs in a separate worker process; a call that does not answer within its deadline gets its worker
killed (and replaced on the next call) and returns ``TIMED_OUT``. Unlike ``signal.alarm`` this
works from any thread. Workers are started with the "spawn" method (safe with threads), kept idle
between calls, and one caller uses a worker at a time, so concurrent threads grade in parallel.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import threading
import time

__all__ = ["TIMED_OUT", "run_bounded", "shutdown"]

TIMED_OUT = "timed_out"
_START_TIMEOUT_S = 60.0  # a fresh worker imports sympy and the LaTeX parser first
_MAX_IDLE = max(2, os.cpu_count() or 2)


def _worker_main(conn) -> None:
    from . import symbolic

    functions = {"symbolic_equal": symbolic.symbolic_equal}
    conn.send("ready")
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        try:
            result = functions[name](*args)
        except Exception:  # a failing comparison is "not equal", never a crash of the worker
            result = False
        conn.send(result)


class _Worker:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True, name="tracesft-grader")
        self.proc.start()
        child.close()
        self.ready = False

    def wait_ready(self) -> bool:
        if not self.ready:
            if not self.conn.poll(_START_TIMEOUT_S):
                return False
            self.ready = self.conn.recv() == "ready"
        return self.ready

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(timeout=1.0)
        except Exception:
            pass
        self.conn.close()


_lock = threading.Lock()
_idle: list[_Worker] = []


def _acquire() -> _Worker:
    with _lock:
        while _idle:
            w = _idle.pop()
            if w.proc.is_alive():
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
    if not w.wait_ready():
        w.kill()
        return TIMED_OUT
    try:
        w.conn.send((name, args))
        deadline = time.monotonic() + timeout
        if w.conn.poll(max(0.0, deadline - time.monotonic())):
            result = w.conn.recv()
            _release(w)
            return result
    except (EOFError, OSError, BrokenPipeError):
        pass
    w.kill()
    _release(_Worker())  # start the replacement now, so the next call need not wait for it
    return TIMED_OUT


def shutdown() -> None:
    """Kill all idle workers (also done at interpreter exit)."""
    with _lock:
        workers, _idle[:] = list(_idle), []
    for w in workers:
        w.kill()


atexit.register(shutdown)
