"""Prediction models: typed task specs, feature extraction from the lake, training, evaluation,
TRIPOD+AI model cards and a registry of versions (draft → validated → published → retired)."""

from medlake.models.registry import Registry, StaticDirectory, UserDirectory
from medlake.models.runtime import LoadedModel, load_model
from medlake.models.spec import TaskSpec
from medlake.models.train import train

__all__ = ["LoadedModel", "Registry", "StaticDirectory", "TaskSpec", "UserDirectory", "load_model", "train"]
