"""The vLLM engine's own ``torch.distributed`` world, kept apart from torchrun's.

Under torchrun the training processes share one default process group. An in-process vLLM engine
initialises ``torch.distributed`` as well (a world of one, for its tensor/pipeline groups); if it
saw torchrun's group it would build its groups on it, and creating a group is a collective that
the other ranks never join (the engine would hang, or take them along). So rank 0 starts its one
engine inside a world of its own:

- :func:`own_world` swaps torch's process-group registry (``distributed_c10d._world``) for an
  empty one and hides torchrun's variables (``RANK``, ``WORLD_SIZE``, ...) while the engine
  starts; vLLM then initialises a world of one there. The registry the engine created is kept
  with the engine (:func:`remember`), and every later call into the engine (generate, weight
  sync) runs inside it again (:func:`engine_world`). Its shutdown destroys its own groups, never
  torchrun's (:func:`engine_teardown`: torch keeps one table of groups per process).
- The weight sync reads the policy's weights *inside* the engine's world, but under FSDP2 each
  weight is gathered with a collective over torchrun's group: :func:`in_world` runs each step of
  the weights' iterator back in the training world, one tensor at a time.

Single-process training has no world of its own (``torch.distributed`` is not initialised), and
then none of this changes anything: vLLM initialises the process's world as it always did.
Tested with two gloo ranks (DDP and FSDP2) in ``.venv-vllm``: the engine's greedy generations
equal Hugging Face greedy on the synced weights and a one-process run's.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

__all__ = ["own_world", "remember", "engine_world", "engine_teardown", "in_world"]

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK",
                  "ROLE_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")
_WORLDS: dict[int, object] = {}  #: id(engine) -> the process-group registry it runs in


def _c10d():
    import torch.distributed.distributed_c10d as c10d

    return c10d


def _training_world_active() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


@contextlib.contextmanager
def _swapped(world):
    c10d = _c10d()
    saved, c10d._world = c10d._world, world
    try:
        yield
    finally:
        c10d._world = saved


@contextlib.contextmanager
def own_world():
    """Start an engine here: inside a fresh registry when a training world exists (yields it), else
    as is (yields None)."""
    if not _training_world_active():
        yield None
        return
    world = _c10d()._World()
    hidden = {k: os.environ.pop(k) for k in _TORCHRUN_VARS if k in os.environ}
    try:
        with _swapped(world):
            yield world
    finally:
        os.environ.update(hidden)


def remember(llm, world) -> None:
    if world is not None:
        _WORLDS[id(llm)] = world


@contextlib.contextmanager
def engine_teardown(llm):
    """Shut ``llm`` down inside its world, which then ends: torch's registry of groups is one per
    process (only the default group is the world's own), and destroying a default group clears
    every group of the process, torchrun's with it; so vLLM's teardown finds no default group
    here (it destroys its own groups one by one) and this one is destroyed alone afterwards."""
    world = _WORLDS.pop(id(llm), None)
    if world is None:
        yield
        return
    import torch.distributed as dist

    with _swapped(world):
        default, world.default_pg = world.default_pg, None
        try:
            yield
        finally:
            if default is not None:
                dist.destroy_process_group(default)


@contextlib.contextmanager
def engine_world(llm):
    """Run a call into ``llm`` inside the world it was started in (a no-op for an engine started
    without a training world)."""
    world = _WORLDS.get(id(llm))
    if world is None:
        yield
        return
    with _swapped(world):
        yield


def in_world(items: Iterator) -> Iterator:
    """``items``, each one produced inside the registry current at this call (the training world),
    wherever the result is iterated."""
    world = _c10d()._world  # read now: a generator's body would run only at its first next()

    def produce():
        while True:
            with _swapped(world):
                try:
                    item = next(items)
                except StopIteration:
                    return
            yield item

    return produce()
