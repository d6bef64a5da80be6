"""Dataset errors: refusals that carry a report the CLI prints as a table."""

from __future__ import annotations

from sentimentops.core.errors import InvalidInput
from sentimentops.training.datasets.schemas import ValidationReport


class DatasetValidationFailed(InvalidInput):
    """A batch failed its expectations; nothing was stored. `report` names each failure."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.summary())
        self.report = report
