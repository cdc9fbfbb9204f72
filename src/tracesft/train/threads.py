"""How many CPU threads a process uses: torch's intra-op pool and the tokenizers' (Rust) pool.

By default ``OMP_NUM_THREADS`` when the caller set it in a one-process run (the usual way to say it,
which torch itself reads; torchrun sets it to 1 for its ranks, so under torchrun it is not read), else
the cores this process may run on (``os.sched_getaffinity``: a container's or
``taskset``'s CPU set, not the machine's), divided among the ranks of this machine under torchrun.
More threads than free cores make every matrix product wait for the slowest thread: with another
process busy on a 2-core machine, a SmolLM2-135M forward pass took 3.2-4.3 s with 2 threads against
0.69 s with 1.
"""

from __future__ import annotations

import logging
import os

__all__ = ["available_cores", "default_threads", "apply_threads"]

log = logging.getLogger(__name__)


def available_cores() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def default_threads(local_world_size: int = 1) -> int:
    """``OMP_NUM_THREADS`` if set to a positive number in a one-process run, else the cores this
    process may use, shared among ``local_world_size`` ranks (at least 1)."""
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if local_world_size <= 1 and omp.isdigit() and int(omp) > 0:
        return int(omp)
    return max(1, available_cores() // max(1, local_world_size))


def apply_threads(threads: int | None, local_world_size: int = 1) -> int:
    """Set torch's thread count and the tokenizers' (``RAYON_NUM_THREADS``, read when their pool first
    starts, so call this before tokenizing); returns the count used."""
    import torch

    n = threads or default_threads(local_world_size)
    torch.set_num_threads(n)
    os.environ["RAYON_NUM_THREADS"] = str(n)
    os.environ["RAYON_RS_NUM_CPUS"] = str(n)  # older tokenizers releases
    log.debug("threads: %d (torch and tokenizers; %d cores available)", n, available_cores())
    return n
