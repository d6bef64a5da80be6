"""The bundled reference datasets (datasets/, see datasets/PROVENANCE.md) as DataFrames with
deterministic splits.

Every loader returns columns `id`, `text` (raw: cleaning belongs to the model's featurisation, so
that serving applies exactly the same steps), `label` (int) and, for training sets, `split`
("train", "validation", "test").
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Literal

import pandas as pd

from sentimentops.core.errors import InvalidInput, NotFound
from sentimentops.core.vocabulary import TASKS
from sentimentops.training.text import hash_split, normalise_key

LABEL_NAMES: dict[str, list[str]] = {
    "sentiment": ["negative", "positive"],
    "sarcasm": ["not_sarcastic", "sarcastic"],
}
SPLITS = ("train", "validation", "test")
# Changing a fraction or salt reshuffles the splits: recorded metrics stop being comparable.
SARCASM_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}
IMDB_VALIDATION_FRACTION = 0.1
SPLIT_SALT = "sentimentops-split-v1"

IMDB_FILE = "imdb/imdb.parquet"
SARCASM_FILES = {
    1: "sarcasm_headlines/Sarcasm_Headlines_Dataset_v1.json.zip",
    2: "sarcasm_headlines/Sarcasm_Headlines_Dataset_v2.csv.gz",
}
XLMT_LANGUAGES = (
    "arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish",
)  # fmt: skip
SENTIMIX_LABELS = {"negative": 0, "neutral": 1, "positive": 2}


def _path(datasets_dir: Path, relative: str) -> Path:
    path = datasets_dir / relative
    if not path.is_file():
        raise NotFound(f"reference dataset file {path} is missing (run scripts/setup)")
    return path


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def frame_hash(frame: pd.DataFrame) -> str:
    """Content hash of a split dataset (ids, texts, labels, splits): the dataset version that
    lineage records."""
    digest = hashlib.sha256()
    columns = [c for c in ("id", "text", "label", "split") if c in frame.columns]
    for row in frame[columns].itertuples(index=False):
        digest.update("\x1f".join(str(v) for v in row).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def load_imdb(datasets_dir: Path) -> pd.DataFrame:
    """IMDB with its official train/test; validation is carved from train by a stable hash of
    review_id."""
    raw = pd.read_parquet(_path(datasets_dir, IMDB_FILE))
    fractions = {"train": 1 - IMDB_VALIDATION_FRACTION, "validation": IMDB_VALIDATION_FRACTION}
    split = [
        "test" if official == "test" else hash_split(rid, fractions, salt=SPLIT_SALT)
        for rid, official in zip(raw["review_id"], raw["split"], strict=True)
    ]
    return pd.DataFrame(
        {
            "id": raw["review_id"].astype(str),
            "text": raw["text"].astype(str),
            "label": raw["label"].astype("int64"),
            "split": split,
        }
    )


def _read_sarcasm(datasets_dir: Path, version: int) -> pd.DataFrame:
    path = _path(datasets_dir, SARCASM_FILES[version])
    if version == 1:
        with zipfile.ZipFile(path) as archive:
            (member,) = archive.namelist()
            data = archive.read(member)
        return pd.read_json(io.BytesIO(data), lines=True)
    return pd.read_csv(path)


def load_sarcasm(datasets_dir: Path, version: int = 1) -> pd.DataFrame:
    """Sarcasm headlines, de-duplicated on the normalised headline, split 80/10/10 by a stable
    hash of it (so one headline never lands in two splits)."""
    if version not in SARCASM_FILES:
        raise InvalidInput(f"sarcasm headlines version must be 1 or 2, got {version}")
    raw = _read_sarcasm(datasets_dir, version)
    keys = raw["headline"].astype(str).map(normalise_key)
    frame = pd.DataFrame(
        {"key": keys, "text": raw["headline"].astype(str), "label": raw["is_sarcastic"]}
    )
    frame = frame[frame["key"] != ""]
    # A headline labelled both ways carries no signal and would leak: drop every copy of it.
    conflicting = frame.groupby("key")["label"].transform("nunique") > 1
    frame = frame[~conflicting].drop_duplicates("key", keep="first")
    return pd.DataFrame(
        {
            "id": [hashlib.sha256(k.encode()).hexdigest()[:16] for k in frame["key"]],
            "text": frame["text"].to_numpy(),
            "label": frame["label"].astype("int64").to_numpy(),
            "split": [hash_split(k, SARCASM_FRACTIONS, salt=SPLIT_SALT) for k in frame["key"]],
        }
    )


def load_task(task: str, datasets_dir: Path) -> pd.DataFrame:
    """The reference training set of a task: IMDB for sentiment, sarcasm headlines v1."""
    if task == "sentiment":
        return load_imdb(datasets_dir)
    if task == "sarcasm":
        return load_sarcasm(datasets_dir, 1)
    raise InvalidInput(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def source_files(task: str, datasets_dir: Path) -> list[Path]:
    """The bundled files a task's reference set is read from (for lineage hashes)."""
    relative = IMDB_FILE if task == "sentiment" else SARCASM_FILES[1]
    return [_path(datasets_dir, relative)]


def load_sst2(datasets_dir: Path, split: Literal["dev", "test"] = "test") -> pd.DataFrame:
    """SST-2 sentences (binary sentiment), for out-of-domain evaluation."""
    raw = pd.read_csv(
        _path(datasets_dir, f"sst2/{split}.tsv"),
        sep="\t",
        quoting=3,
        dtype=str,
        keep_default_na=False,
    )
    text_column = "content" if "content" in raw.columns else "sentence"
    return pd.DataFrame(
        {
            "id": [f"sst2_{split}_{i}" for i in range(len(raw))],
            "text": raw[text_column],
            "label": raw["label"].astype("int64"),
        }
    )


def load_xlmt(datasets_dir: Path, language: str, split: str = "test") -> pd.DataFrame:
    """One language of the XLM-T benchmark (labels 0 negative, 1 neutral, 2 positive)."""
    if language not in (*XLMT_LANGUAGES, "all"):
        raise InvalidInput(f"unknown XLM-T language {language!r}")
    folder = f"multilingual_sentiment_xlmt/{language}"
    texts = _path(datasets_dir, f"{folder}/{split}_text.txt").read_text("utf-8").splitlines()
    labels = _path(datasets_dir, f"{folder}/{split}_labels.txt").read_text("utf-8").split()
    if len(texts) != len(labels):
        raise InvalidInput(f"XLM-T {language}/{split}: {len(texts)} texts, {len(labels)} labels")
    return pd.DataFrame(
        {
            "id": [f"xlmt_{language}_{split}_{i}" for i in range(len(texts))],
            "text": texts,
            "label": [int(v) for v in labels],
        }
    )


def load_sentimix(datasets_dir: Path, file: str = "train_conll_spanglish.txt") -> pd.DataFrame:
    """SentiMix code-mixed tweets from CoNLL (tokens joined by spaces; 0/1/2 labels)."""
    path = _path(datasets_dir, f"code_mixed_sentimix/{file}")
    rows: list[tuple[str, str, int]] = []
    tokens: list[str] = []
    meta: tuple[str, int] | None = None
    for line in [*path.read_text("utf-8").splitlines(), "meta\t-\tneutral"]:
        parts = line.split("\t")
        if parts[0] == "meta" and len(parts) >= 3:
            if meta is not None:
                rows.append((meta[0], " ".join(tokens), meta[1]))
            meta, tokens = (parts[1], SENTIMIX_LABELS[parts[2].strip()]), []
        elif parts[0].strip():
            tokens.append(parts[0])
    return pd.DataFrame(rows, columns=["id", "text", "label"])
