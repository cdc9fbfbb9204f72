"""Learning-rate schedules: transformers' schedulers, chosen by name.

Every schedule warms up linearly over ``warmup_steps`` (from 0 at step 0, transformers'
convention), then: ``constant``; ``linear`` decay to ``min_lr_ratio * lr`` at the last step;
``cosine`` decay to ``min_lr_ratio * lr``.
"""

from __future__ import annotations

__all__ = ["SCHEDULES", "build_scheduler"]

SCHEDULES = ("constant", "linear", "cosine")


def build_scheduler(optimizer, name: str, *, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0):
    """A ``torch.optim.lr_scheduler.LambdaLR`` stepped once per optimizer step."""
    from transformers import get_scheduler

    if name == "constant" or (name == "linear" and min_lr_ratio >= 1.0):
        return get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=warmup_steps)
    if name == "linear":  # linear decay to lr_end = polynomial decay of power 1
        lr_end = optimizer.defaults["lr"] * min_lr_ratio
        return get_scheduler("polynomial", optimizer, num_warmup_steps=warmup_steps, num_training_steps=total_steps,
                             scheduler_specific_kwargs={"lr_end": lr_end, "power": 1.0})
    if name == "cosine":
        return get_scheduler("cosine_with_min_lr", optimizer, num_warmup_steps=warmup_steps,
                             num_training_steps=total_steps, scheduler_specific_kwargs={"min_lr_rate": min_lr_ratio})
    raise ValueError(f"unknown lr schedule {name!r}: not one of {', '.join(SCHEDULES)}")
