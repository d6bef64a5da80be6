"""Model families behind one interface (base.ModelFamily), looked up by name.

The torch families are imported on first use: training the linear model, and the CLI, must not
pay for importing torch."""

from __future__ import annotations

import importlib

from sentimentops.core.errors import InvalidInput
from sentimentops.training.config import FAMILIES
from sentimentops.training.families.base import (
    Export,
    FitContext,
    FitData,
    ModelFamily,
    Progress,
    TrainedModel,
)

__all__ = [
    "FAMILIES",
    "Export",
    "FitContext",
    "FitData",
    "ModelFamily",
    "Progress",
    "TrainedModel",
    "get_family",
]

_MODULES = {
    "tfidf_lr": "sentimentops.training.families.linear",
    "notebook": "sentimentops.training.families.notebook",
    "minilm": "sentimentops.training.families.minilm",
}


def get_family(name: str) -> ModelFamily:
    """The family called `name`; InvalidInput for an unknown name."""
    if name not in _MODULES:
        raise InvalidInput(f"unknown family {name!r}; expected one of {', '.join(FAMILIES)}")
    family: ModelFamily = importlib.import_module(_MODULES[name]).FAMILY
    return family
