"""Drift between two versions' metadata: schema changes, and label-share moves against the
threshold (no database: the rows' metadata is compared)."""

from __future__ import annotations

from sentimentops.curation import service
from sentimentops.training.datasets.models import DatasetVersion


def test_schema_drift_alone_is_drift_and_small_moves_are_not() -> None:
    def version(ident: str, schema: list[str], balance: dict[str, int]) -> DatasetVersion:
        return DatasetVersion(
            id=ident,
            schema=[{"name": c, "dtype": "string"} for c in schema],
            label_balance=balance,
        )

    before = version("v1", ["id", "text", "label"], {"sarcastic": 50, "not_sarcastic": 50})
    moved = version("v2", ["id", "text", "label"], {"sarcastic": 59, "not_sarcastic": 41})
    assert service.compare(before, moved, threshold_points=10.0).kinds == []
    assert service.compare(before, moved, threshold_points=8.0).kinds == ["label_balance"]
    retyped = version("v3", ["id", "text"], {"sarcastic": 50, "not_sarcastic": 50})
    retyped.schema = [*retyped.schema, {"name": "label", "dtype": "int64"}]
    drift = service.compare(before, retyped, threshold_points=10.0)
    assert drift.kinds == ["schema"]
    assert drift.columns_retyped == {"label": {"before": "string", "after": "int64"}}
    assert service.drift_sentences(drift) == ["Column label changed type from string to int64."]
