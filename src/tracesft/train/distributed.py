"""Data parallelism on torch.distributed: DDP, or FSDP2 (``fully_shard``) with ``parallel: fsdp``.

Launched by ``torchrun --nproc_per_node N -m tracesft train ...`` (or ``tracesft train --nproc N``).
Each rank trains on its own share of every global batch; gradients are averaged across ranks by
DDP/FSDP, and :func:`tracesft.train.step.train_step` weights the loss so that the averaged gradient
is exactly the gradient of the whole global batch (token counts are all-reduced first).
Only rank 0 writes logs, checkpoints and plots, and evaluates.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistInfo", "setup_distributed", "teardown_distributed", "LogProbModule", "wrap_for_training",
           "all_reduce_sum", "full_state_dicts", "load_full_state_dicts", "barrier", "gradient_sync"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str) -> DistInfo:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); gloo on CPU, NCCL on CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
    return DistInfo(rank, world, local_rank)


def teardown_distributed(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


class LogProbModule(nn.Module):
    """Wraps a causal LM so that DDP/FSDP see one forward: log-probs (and entropy) of the labels."""

    def __init__(self, model: nn.Module, fused: bool = True) -> None:
        super().__init__()
        self.model = model
        self.fused = fused

    def forward(self, input_ids, labels, response_mask, position_ids=None, loss_weights=None):
        """``loss_weights``: the weights w of the loss ``-sum(w * log_probs)`` when known before the
        forward; the fused head then forms its gradients in the forward (``grad_hint``)."""
        from ..logprobs import get_response_log_probs

        extra = None
        if position_ids is not None and self.packing_path == "varlen":
            from .packing import varlen_kwargs

            extra = varlen_kwargs(position_ids)
        return get_response_log_probs(self.model, input_ids, labels, return_token_entropy=True,
                                      response_mask=response_mask, fused=self.fused, position_ids=position_ids,
                                      attention_mask=self.packed_mask(position_ids), attention_kwargs=extra,
                                      grad_hint=loss_weights)

    #: how a packed row's examples are kept apart (:mod:`tracesft.train.packing`): "varlen" (sdpa per
    #: example, from the row's boundaries), "position_ids" (transformers' own packed-sequence support:
    #: a block-diagonal causal mask for sdpa/eager, varlen for flash attention) or "4d-mask" (an
    #: explicit block-diagonal causal mask, for a model that ignores position_ids there)
    packing_path = "position_ids"

    def packed_mask(self, position_ids):
        if position_ids is None or self.packing_path != "4d-mask":
            return None
        from ..logprobs import block_causal_mask

        sdpa = getattr(getattr(self.model, "config", None), "_attn_implementation", None) == "sdpa"
        return block_causal_mask(position_ids, next(self.model.parameters()).dtype, boolean=sdpa)


def wrap_for_training(model: nn.Module, parallel: str, info: DistInfo, fused: bool = True,
                      packing_path: str | None = None) -> nn.Module:
    """LogProbModule around the model; under several processes wrapped in DDP or sharded with FSDP2.
    ``packing_path``: how packed rows keep examples apart (:mod:`tracesft.train.packing`)."""
    module = LogProbModule(model, fused)
    if packing_path is not None:
        module.packing_path = packing_path
    if not info.enabled:
        return module
    if parallel == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for layer in getattr(getattr(model, "model", model), "layers", []):
            fully_shard(layer)
        fully_shard(module)
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    device_ids = [info.local_rank] if next(model.parameters()).is_cuda else None
    return DDP(module, device_ids=device_ids)


@contextmanager
def gradient_sync(module: nn.Module, enabled: bool):
    """Within the block, backward synchronises gradients across ranks only when ``enabled``.

    Gradient accumulation syncs once per optimizer step, on its last micro-batch: DDP through
    ``no_sync()``, FSDP2 through ``set_requires_gradient_sync(False)`` (which has no ``no_sync``);
    a plain module (one process) needs nothing.
    """
    if enabled:
        yield
    elif hasattr(module, "no_sync"):
        with module.no_sync():
            yield
    elif hasattr(module, "set_requires_gradient_sync"):
        module.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            module.set_requires_gradient_sync(True)
    else:
        yield


def all_reduce_sum(values: list[float], info: DistInfo) -> list[float]:
    """Element-wise sum over ranks (identity for one process)."""
    if not info.enabled:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().tolist()


def full_state_dicts(model: nn.Module, optimizer) -> tuple[dict, dict]:
    """Full (unsharded) model and optimizer state dicts keyed by parameter name; collective under FSDP.

    The same format in every mode, so a checkpoint saved by N ranks resumes on M ranks (or one).
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict, get_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    model_state = get_model_state_dict(model, options=options)
    if not optimizer.state:  # stateless (SGD without momentum): torch would take a zero step to create state
        names = {id(p): n for n, p in model.named_parameters()}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [names[id(p)] for p in g["params"]]}
                  for g in optimizer.param_groups]
        return model_state, {"state": {}, "param_groups": groups}
    return model_state, get_optimizer_state_dict(model, optimizer, options=options)


def load_full_state_dicts(model: nn.Module, optimizer, model_state: dict | None, optim_state: dict) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict, set_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True)
    if model_state is not None:
        set_model_state_dict(model, model_state, options=options)
    if not _has_tensor_state(optim_state):
        # a stateless optimizer (SGD without momentum): torch's loader needs a tensor to find the
        # device and fails without one; only the groups' hyperparameters are there to restore
        for group, saved in zip(optimizer.param_groups, optim_state.get("param_groups", []), strict=True):
            group.update({k: v for k, v in saved.items() if k != "params"})
        return
    set_optimizer_state_dict(model, optimizer, optim_state, options=options)


def _has_tensor_state(optim_state: dict) -> bool:
    return any(isinstance(v, torch.Tensor) and v.dim() > 0
               for per_param in optim_state.get("state", {}).values() for v in per_param.values())
