"""Batch validation with Great Expectations 1.x (ephemeral context, pandas datasource, no
project folder). Imported lazily: GE takes seconds to import, and the API process must not pay
that at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sentimentops.core.settings import Settings
from sentimentops.training.datasets.errors import DatasetValidationFailed
from sentimentops.training.datasets.schemas import ExampleRow, ExpectationOutcome, ValidationReport
from sentimentops.training.reference_data import LABEL_NAMES, SPLITS

EXAMPLES = 3
EXAMPLE_CHARS = 80


@dataclass(frozen=True)
class Rules:
    """Thresholds of the expectations (settings.dataset_* in production)."""

    max_duplicate_ratio: float = 0.05
    min_text_chars: int = 1
    max_text_chars: int = 100_000


def _shorten(value: Any) -> str:
    text = "<missing>" if value is None or value is pd.NA else repr(value)
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def _expectations(frame: pd.DataFrame, task: str, rules: Rules) -> list[Any]:
    # The concrete modules: the package __init__ re-exports without declaring it (mypy strict).
    from great_expectations.expectations.core.expect_column_proportion_of_unique_values_to_be_between import (  # noqa: E501
        ExpectColumnProportionOfUniqueValuesToBeBetween,
    )
    from great_expectations.expectations.core.expect_column_value_lengths_to_be_between import (
        ExpectColumnValueLengthsToBeBetween,
    )
    from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
        ExpectColumnValuesToBeInSet,
    )
    from great_expectations.expectations.core.expect_column_values_to_be_unique import (
        ExpectColumnValuesToBeUnique,
    )
    from great_expectations.expectations.core.expect_column_values_to_match_regex import (
        ExpectColumnValuesToMatchRegex,
    )
    from great_expectations.expectations.core.expect_column_values_to_not_be_null import (
        ExpectColumnValuesToNotBeNull,
    )

    found: list[Any] = [
        ExpectColumnValuesToNotBeNull(column=column)
        for column in ("id", "text", "label")
        if column in frame.columns
    ]
    found += [
        # Whitespace-only texts are empty once cleaned.
        ExpectColumnValuesToMatchRegex(column="text", regex=r"\S"),
        ExpectColumnValueLengthsToBeBetween(
            column="text", min_value=rules.min_text_chars, max_value=rules.max_text_chars
        ),
        ExpectColumnValuesToBeInSet(column="label", value_set=list(range(len(LABEL_NAMES[task])))),
        ExpectColumnProportionOfUniqueValuesToBeBetween(
            column="text", min_value=1.0 - rules.max_duplicate_ratio, max_value=1.0
        ),
        ExpectColumnValuesToBeUnique(column="id"),
    ]
    if "split" in frame.columns:
        found.append(ExpectColumnValuesToBeInSet(column="split", value_set=list(SPLITS)))
    return found


def _rule(kind: str, kwargs: dict[str, Any]) -> str:
    """An expectation in words, for people reading a rejection."""
    words = {
        "expect_column_values_to_not_be_null": "no missing values",
        "expect_column_values_to_match_regex": "non-empty text",
        "expect_column_values_to_be_unique": "unique values",
    }
    if kind in words:
        return words[kind]
    if kind == "expect_column_value_lengths_to_be_between":
        return f"length between {kwargs.get('min_value')} and {kwargs.get('max_value')} characters"
    if kind == "expect_column_values_to_be_in_set":
        return f"values in {{{', '.join(str(v) for v in kwargs.get('value_set', []))}}}"
    if kind == "expect_column_proportion_of_unique_values_to_be_between":
        ratio = 1.0 - float(kwargs.get("min_value") or 0.0)
        return f"duplicate ratio at most {ratio:.3g}"
    return kind


def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,  # no usage statistics sent from an offline platform
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _duplicate_examples(texts: pd.Series) -> list[ExampleRow]:
    counts = texts.dropna().value_counts()
    repeated = counts[counts > 1].head(EXAMPLES)
    return [
        ExampleRow(row=int(texts[texts == text].index[1]), value=f"{_shorten(text)} ×{n}")
        for text, n in repeated.items()
    ]


def validate_frame(frame: pd.DataFrame, *, task: str, rules: Rules) -> ValidationReport:
    """Run the expectations on the canonical frame; the report lists every outcome."""
    # GE logs every context and datasource it creates at INFO; that is noise in our logs.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    # GE's pandas engine handles plain object columns most predictably (nullable extension
    # dtypes trip some of its metrics); None marks a missing value.
    plain = frame.reset_index(drop=True).astype(object).where(frame.notna().to_numpy(), None)
    context = _context()
    asset = context.data_sources.add_pandas("upload").add_dataframe_asset("batch")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(
        batch_parameters={"dataframe": plain}
    )
    suite = gx.ExpectationSuite(name="dataset", expectations=_expectations(plain, task, rules))
    result = batch.validate(
        suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": EXAMPLES}
    )
    outcomes: list[ExpectationOutcome] = []
    for item in result.results:
        config = item.expectation_config
        column = str(config.kwargs.get("column", ""))
        details = item.result or {}
        outcome = ExpectationOutcome(
            expectation=str(config.type),
            rule=_rule(str(config.type), dict(config.kwargs)),
            column=column,
            success=bool(item.success),
            unexpected_count=int(details.get("unexpected_count") or 0),
        )
        if "observed_value" in details:
            outcome.observed = (
                f"{details['observed_value']:.4g}"
                if isinstance(details["observed_value"], float)
                else str(details["observed_value"])
            )
        if item.exception_info and item.exception_info.get("raised_exception"):
            outcome.success = False
            outcome.observed = str(item.exception_info.get("exception_message", ""))[:200]
        if not outcome.success:
            indices = list(details.get("unexpected_index_list") or [])[:EXAMPLES]
            outcome.examples = [
                ExampleRow(row=int(i), value=_shorten(plain.at[int(i), column])) for i in indices
            ]
            if config.type == "expect_column_proportion_of_unique_values_to_be_between":
                texts = plain[column]
                outcome.unexpected_count = int(texts.count() - texts.nunique(dropna=True))
                outcome.examples = _duplicate_examples(texts)
        outcomes.append(outcome)
    return ValidationReport(
        success=all(o.success for o in outcomes), row_count=len(frame), outcomes=outcomes
    )


def require_valid(frame: pd.DataFrame, *, task: str, rules: Rules) -> ValidationReport:
    """validate_frame, raising DatasetValidationFailed (an InvalidInput) when anything fails."""
    report = validate_frame(frame, task=task, rules=rules)
    if not report.success:
        raise DatasetValidationFailed(report)
    return report


def rules_from(settings: Settings) -> Rules:
    return Rules(
        max_duplicate_ratio=settings.dataset_max_duplicate_ratio,
        max_text_chars=settings.dataset_max_text_chars,
    )
