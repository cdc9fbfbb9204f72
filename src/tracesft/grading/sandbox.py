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
_MEMORY_LIMIT_BYTES = 4 << 30  # a worker's data segment; sympy on a hostile answer can grow without bound
_IN_WORKER = False  # set in a worker process: bounded calls run directly (the caller's bound covers them)


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux), and exit now if it
    already has: a killed ``tracesft filter`` must not leave graders running."""
    import signal

    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the stdin EOF check below still ends idle workers
        pass
    if os.getppid() != parent_pid:
        os._exit(0)


def _limit_cpu_for_next_job(seconds: float) -> None:
    """A soft CPU-time limit ``seconds`` past what this worker has used so far (SIGXCPU ends it)."""
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    soft = int(spent + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _worker_functions() -> dict:
    from . import rewards, symbolic

    def grade(kind: str, response: str, ground_truth, timeout: float):
        g = (rewards.grade_r1_zero if kind == "r1_zero" else rewards.grade_free_form)(response, ground_truth, timeout)
        return [g.format_ok, g.correct, g.answer, g.timed_out]

    return {"symbolic_equal": symbolic.symbolic_equal, "grade": grade}


def _worker_main() -> None:
    """Worker loop: one JSON request per stdin line, one JSON reply per stdout line.

    The worker dies with its parent, gets a memory limit, and before each job a CPU-time limit of
    the job's bound (plus a second), so that even a worker nobody waits for stops by itself.
    """
    import resource

    from . import sandbox  # under ``-m`` this file runs as __main__; the graders import it by name
    sandbox._IN_WORKER = True
    _die_with_parent(int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid())
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (_MEMORY_LIMIT_BYTES, _MEMORY_LIMIT_BYTES))
    except (ValueError, OSError):
        pass
    functions = _worker_functions()
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:  # EOF when the parent closes the pipe or dies
        try:
            request = json.loads(line)
            _limit_cpu_for_next_job(float(request.get("t", 60.0)))
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
            [sys.executable, "-m", "tracesft.grading.sandbox", str(os.getpid())],
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
        self.proc.stdin.write(json.dumps({"f": name, "a": list(args), "t": timeout}) + "\n")
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
    kill) is not charged to the call. Never raises for a slow or crashing job. Inside a worker (a
    whole grade sent there, see :mod:`tracesft.grading.rewards`) the function runs directly: the
    bound of the outer call covers it.
    """
    if _IN_WORKER:
        return _worker_functions()[name](*args)
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
