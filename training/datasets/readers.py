"""Reading an uploaded file into the canonical frame (id, text, label[, split]).

Every refusal names what to fix: the byte offset and line of a non-UTF-8 byte, the line of a
CSV quote that never closes, the columns that were found when a mapped one is missing, the label
values that have no meaning for the task.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sentimentops.core.errors import InvalidInput
from sentimentops.training.datasets.schemas import FileFormat
from sentimentops.training.reference_data import LABEL_NAMES, SPLITS

# Spellings accepted for each class, compared after strip() and casefold(). Anything else is
# refused: guessing would silently flip or merge classes (e.g. a 3-class "neutral").
LABEL_SPELLINGS: dict[str, dict[str, int]] = {
    "sentiment": {
        **dict.fromkeys(("0", "neg", "negative"), 0),
        **dict.fromkeys(("1", "pos", "positive"), 1),
    },
    "sarcasm": {
        **dict.fromkeys(
            (
                "0",
                "false",
                "no",
                "not_sarcastic",
                "not sarcastic",
                "non_sarcastic",
                "not-sarcastic",
            ),
            0,
        ),
        **dict.fromkeys(("1", "true", "yes", "sarcastic"), 1),
    },
}
SUFFIX_FORMATS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_MAX_LISTED = 10
_INTEGRAL_FLOAT = re.compile(r"^([+-]?\d+)\.0+$")


@dataclass(frozen=True)
class ColumnMapping:
    """Which file columns hold the text and label (and optionally a stable id and a split)."""

    text: str
    label: str
    id: str | None = None
    split: str | None = None

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class RawFile:
    """A file that passed the size and encoding checks."""

    path: Path
    name: str
    sha256: str
    size: int
    format: FileFormat


def detect_format(path: Path, given: FileFormat | None) -> FileFormat:
    if given is not None:
        return given
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"cannot tell the format of {path.name!r} from its suffix; pass --format csv, jsonl "
            "or parquet"
        )
    return fmt


def check_file(
    path: Path, *, max_bytes: int, fmt: FileFormat | None = None, name: str | None = None
) -> RawFile:
    """Size limit (before reading a byte), then one streamed pass: SHA-256 of the raw bytes and,
    for text formats, strict UTF-8 decoding that names the first bad byte's line and offset."""
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file")
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidInput(
            f"{path.name} is {size:,} bytes, over the limit of {max_bytes:,} bytes "
            "(settings.max_dataset_bytes)"
        )
    if size == 0:
        raise InvalidInput(f"{path.name} is empty")
    fmt = detect_format(path, fmt)
    digest = hashlib.sha256()
    offset = 0
    with path.open("rb") as f:
        for line_number, line in enumerate(f, start=1):
            digest.update(line)
            if fmt != "parquet":
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InvalidInput(
                        f"{path.name} is not valid UTF-8: byte 0x{line[exc.start]:02x} at offset "
                        f"{offset + exc.start} (line {line_number}, column {exc.start + 1}); "
                        "re-save the file as UTF-8"
                    ) from None
            offset += len(line)
    return RawFile(path, name or path.name, digest.hexdigest(), size, fmt)


def _read_jsonl(path: Path) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8-sig") as f:
        for line_number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"line {line_number} is not valid JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                raise InvalidInput(f"line {line_number} is not a JSON object")
            records.append(record)
    return pd.DataFrame.from_records(records)


def check_csv_syntax(path: Path, *, sep: str, name: str) -> None:
    """Refuse a CSV whose quoting is broken, naming the line where the broken record starts.

    pandas reads an unterminated quote as a field that runs on until the next quote character,
    gluing the following lines into one cell: the damage then surfaces as an unknown label or a
    wrong row count far from its cause, or as "EOF inside string starting at row N", counted in
    records rather than lines. Python's csv module in strict mode stops at the first quote that
    does not close where a field must end, and counts physical lines."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=sep, strict=True)
        start = 1  # the line the record being read starts on
        try:
            for _record in reader:
                start = reader.line_num + 1
        except csv.Error as exc:
            problem = str(exc)
            if "unexpected end of data" in problem:
                detail = "the file ends inside it"
            elif "field larger than field limit" in problem:
                detail = f"it runs on for over {csv.field_size_limit():,} characters"
            elif "expected after '\"'" in problem:
                detail = f"text follows its closing quote on line {reader.line_num}"
            else:
                raise InvalidInput(
                    f"{name} is not valid CSV: line {reader.line_num}: {problem}"
                ) from None
            raise InvalidInput(
                f"{name} is not valid CSV: a quote opened on line {start} is not closed where "
                f"the field ends ({detail}); close it, and write a quote that is part of the "
                'text twice ("")'
            ) from None


def read_table(raw: RawFile) -> pd.DataFrame:
    """The file as a DataFrame of its own columns (strings for CSV; missing cells are NA)."""
    try:
        if raw.format == "csv":
            sep = "\t" if raw.path.suffix.lower() == ".tsv" else ","
            check_csv_syntax(raw.path, sep=sep, name=raw.name)
            return pd.read_csv(
                raw.path,
                sep=sep,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                encoding="utf-8-sig",
            )
        if raw.format == "jsonl":
            return _read_jsonl(raw.path)
        return pd.read_parquet(raw.path)
    except InvalidInput:
        raise
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        # pyarrow's and pandas' parser errors are ValueError/OSError subclasses.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"cannot read {raw.name} as {raw.format}: {first}") from None


def is_missing(value: Any) -> bool:
    """None, NaN or pandas' NA (and never raises on lists, unlike pd.isna)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _label_value(value: Any) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip().casefold()
    # "1.0": an integer column that held a missing value was written out as floats.
    return _INTEGRAL_FLOAT.sub(r"\1", text)


def map_labels(values: pd.Series, task: str) -> tuple[pd.Series, dict[str, int]]:
    """Labels as nullable integers (class index) and the spelling → index mapping used; refuses
    values outside the task's known spellings, listing them with their counts."""
    spellings = LABEL_SPELLINGS[task]
    normalised = [_label_value(v) for v in values]
    unknown = Counter(v for v in normalised if v is not None and v not in spellings)
    if unknown:
        listed = ", ".join(f"{v!r} ({n})" for v, n in unknown.most_common(_MAX_LISTED))
        more = f" and {len(unknown) - _MAX_LISTED} more" if len(unknown) > _MAX_LISTED else ""
        names = " / ".join(LABEL_NAMES[task])
        raise InvalidInput(
            f"unknown {task} labels: {listed}{more}; expected 0/1 or {names} "
            f"(accepted spellings: {', '.join(sorted(spellings))})"
        )
    used = sorted({v for v in normalised if v is not None})
    mapped = pd.array([None if v is None else spellings[v] for v in normalised], dtype="Int64")
    return pd.Series(mapped, index=values.index, name="label"), {v: spellings[v] for v in used}


def to_canonical(
    table: pd.DataFrame, mapping: ColumnMapping, task: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The canonical frame: id (given or the 0-based row number), text, label and, when mapped,
    split (train/validation/test)."""
    found = [str(c) for c in table.columns]
    wanted = [c for c in (mapping.text, mapping.label, mapping.id, mapping.split) if c is not None]
    missing = [c for c in wanted if c not in found]
    if missing:
        raise InvalidInput(
            f"column(s) {', '.join(repr(c) for c in missing)} not found; the file has: "
            f"{', '.join(repr(c) for c in found) or 'no columns'}"
        )
    if len(table) == 0:
        raise InvalidInput("the file has no rows")
    labels, label_mapping = map_labels(table[mapping.label], task)
    text = table[mapping.text]
    if any(not is_missing(v) and not isinstance(v, str) for v in text):
        raise InvalidInput(f"column {mapping.text!r} must hold text, not numbers or lists")
    ids = (
        table[mapping.id].map(lambda v: None if is_missing(v) else str(v))
        if mapping.id is not None
        else pd.Series([str(i) for i in range(len(table))], index=table.index)
    )
    frame = pd.DataFrame(
        {
            "id": ids.astype("string"),
            "text": text.astype("string"),
            "label": labels,
        }
    )
    if mapping.split is not None:
        splits = table[mapping.split].map(
            lambda v: None if is_missing(v) else str(v).strip().lower()
        )
        splits = splits.replace({"val": "validation", "dev": "validation", "valid": "validation"})
        bad = sorted({s for s in splits if s is not None and s not in SPLITS})
        if bad:
            raise InvalidInput(
                f"unknown split values {bad[:_MAX_LISTED]}; expected {', '.join(SPLITS)}"
            )
        frame["split"] = splits.astype("string")
    return frame.reset_index(drop=True), label_mapping
