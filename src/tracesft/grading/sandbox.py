"""Time-bounded execution of grading in worker processes.

Grading untrusted text (model output, dataset answers) can take unbounded time: symbolic comparison
(latex2sympy2's ANTLR parser, then sympy) on ``9^9^9^9`` or ``(99!)!``, and any matching work on a
hostile string. Every grade therefore runs in a separate worker process, a fresh interpreter started
with ``python -m tracesft.grading.worker`` (no fork, so safe with threads), kept idle between calls;
one caller uses a worker at a time, so concurrent threads grade in parallel over processes.

The bound is on the worker's CPU time, not on wall time: a job whose worker has spent more than its
``timeout`` seconds of CPU on it is killed (the worker is replaced) and returns ``TIMED_OUT``, so
load on the machine cannot turn a correct answer into a timeout. A wall-clock cap of
``WALL_FACTOR`` times the bound (plus ``WALL_SLACK_S``) only catches a worker that never gets the
CPU at all. The caller waits in short slices, so SIGINT reaches it within a fraction of a second.

This module holds no grading code: :mod:`.worker` registers the functions a worker may run.
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
_FUNCTIONS: dict = {}  # name -> function a worker may run; filled by .worker (in workers only)
WALL_FACTOR = 20.0  # a job that got almost no CPU for this many times its bound is given up on
WALL_SLACK_S = 30.0
_POLL_S = 0.1  # how often the caller reads the worker's CPU time while it waits
_lock = threading.Lock()


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


def worker_main(functions: dict) -> None:
    """Worker loop (called by :mod:`.worker`): one JSON request per stdin line, one JSON reply per line.

    The worker dies with its parent, gets a memory limit, and before each job a CPU-time limit of
    the job's bound (plus a second), so that even a worker nobody waits for stops by itself.
    """
    import resource

    global _IN_WORKER
    _IN_WORKER = True
    _FUNCTIONS.update(functions)
    _die_with_parent(int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid())
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (_MEMORY_LIMIT_BYTES, _MEMORY_LIMIT_BYTES))
    except (ValueError, OSError):
        pass
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


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used (Linux /proc), or None where unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


_spawner_pool = None


def _spawner():
    global _spawner_pool
    with _lock:
        if _spawner_pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _spawner_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grader-spawner")
        return _spawner_pool


class _Worker:
    """A grader process started with ``python -m tracesft.grading.worker`` (no fork of the caller,
    so it is safe from threads, notebooks and scripts read from stdin)."""

    def __init__(self) -> None:
        # Started from one long-lived thread: Linux's parent-death signal follows the thread that
        # forked, so a worker started from a grading pool's thread would be killed when the pool ends.
        self.proc = _spawner().submit(
            subprocess.Popen, [sys.executable, "-m", "tracesft.grading.worker", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
        ).result()
        self.ready = False
        self.shut_down = False  # killed by shutdown(): no replacement is started for it

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
        """The job's reply; TimeoutError once the worker has spent ``timeout`` s of CPU on it (or,
        getting no CPU, after the wall-clock cap)."""
        import time

        cpu0 = _cpu_seconds(self.proc.pid)
        self.proc.stdin.write(json.dumps({"f": name, "a": list(args), "t": timeout}) + "\n")
        self.proc.stdin.flush()
        start = time.monotonic()
        wall_cap = timeout if cpu0 is None else timeout * WALL_FACTOR + WALL_SLACK_S
        while True:
            waited = time.monotonic() - start
            if waited >= wall_cap:
                raise TimeoutError
            ready, _, _ = select.select([self.proc.stdout], [], [], min(_POLL_S, wall_cap - waited))
            if ready:
                line = self.proc.stdout.readline()
                if not line:  # the worker died (its own CPU limit, memory): the job did not finish
                    raise TimeoutError
                return json.loads(line)
            cpu = _cpu_seconds(self.proc.pid)
            if cpu0 is not None and (cpu is None or cpu - cpu0 > timeout):
                raise TimeoutError

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


_idle: list[_Worker] = []
_busy: set[_Worker] = set()


def _acquire() -> _Worker:
    with _lock:
        while _idle:
            w = _idle.pop()
            if w.alive():
                _busy.add(w)
                return w
            w.kill()
    w = _Worker()
    with _lock:
        _busy.add(w)
    return w


def _release(w: _Worker) -> None:
    with _lock:
        _busy.discard(w)
        if len(_idle) < _MAX_IDLE and w.alive():
            _idle.append(w)
            return
    w.kill()


def prestart(n: int = 1) -> None:
    """Start n idle workers now (in the background), so the first calls do not wait for imports."""
    workers = [_Worker() for _ in range(n)]
    for w in workers:
        _release(w)


def run_bounded(name: str, args: tuple, timeout: float):
    """Run a registered grading function in a worker; its result, or TIMED_OUT after ``timeout`` s
    of the worker's CPU time.

    The time counts from when a ready worker receives the job: the start-up of a fresh worker
    (about 1-2 s, importing sympy and the parser; once per process, and in the background after a
    kill) is not charged to the call. Never raises for a slow or crashing job. Inside a worker (a
    whole grade sent there, see :mod:`tracesft.grading.rewards`) the function runs directly: the
    bound of the outer call covers it.
    """
    if _IN_WORKER:
        return _FUNCTIONS[name](*args)
    w = _acquire()
    try:
        if not w.wait_ready():
            raise OSError("grader worker did not start")
        result = w.call(name, args, timeout)
    except (TimeoutError, OSError, ValueError):
        w.kill()
        _release(w)
        if not w.shut_down:  # start the replacement now, so the next call need not wait for it
            _release(_Worker())
        return TIMED_OUT
    except BaseException:  # KeyboardInterrupt while waiting: the worker's job is abandoned
        w.kill()
        _release(w)
        raise
    _release(w)
    return result


def shutdown() -> None:
    """Kill all workers, idle and busy (also done at interpreter exit): a grade running in a killed
    worker returns TIMED_OUT at once."""
    with _lock:
        workers, _idle[:] = list(_idle) + list(_busy), []
        _busy.clear()
    for w in workers:
        w.shut_down = True
    for w in workers:
        w.kill()


atexit.register(shutdown)
