"""Training: config, builders, data, one step, checkpoints, the loop."""

from ..errors import ConfigError, TrainingError
from .config import TrainConfig, load_config
from .loop import train

__all__ = ["TrainConfig", "load_config", "ConfigError", "train", "TrainingError"]
