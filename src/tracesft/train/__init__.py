"""Training: config, batching and accumulation, checkpoints, the loop."""

from .config import ConfigError, TrainConfig, load_config
from .loop import TrainingError, train

__all__ = ["TrainConfig", "load_config", "ConfigError", "train", "TrainingError"]
