"""Serving runtime for the `tfidf_lr` family: TF-IDF featurisation and a linear classifier,
reimplemented with numpy and the standard library (scikit-learn is not installed for scoring).

Artifact directory (format `sentimentops.tfidf_lr/v1`, written by training/tfidf_lr.py):
    model.json      {"format", "task", "labels", "preprocess", "featurizers": [{"analyzer",
                     "ngram_range", "token_pattern", "sublinear_tf", "vocabulary_file",
                     "n_features"}, ...], "arrays_file"}
    vocab_<i>.json  the i-th featuriser's terms, a JSON list in column order
    arrays.npz      idf_<i> (float64, one per featuriser), coef (classes or 1 x features),
                    intercept; loaded with allow_pickle=False

Featurisation matches sklearn's TfidfVectorizer (smooth idf already applied in idf_<i>, raw
term counts, optional 1 + log(tf), per-featuriser L2 norm); the features of all featurisers are
concatenated. Binary models use the logistic function, multi-class ones softmax, as sklearn's
LogisticRegression.predict_proba does.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sentimentops.core.errors import InvalidInput
from sentimentops.inference.runtime.base import Contexts, FloatArray, Scored
from sentimentops.inference.text import CLEAN_VERSION, clean_text

FORMAT = "sentimentops.tfidf_lr/v1"
MAX_VOCABULARY_BYTES = 512 * 1024 * 1024


def _clean_lower(text: str) -> str:
    return clean_text(text).lower()


# The preprocessing an artifact was trained with, by name. A name this runtime does not know is
# refused instead of silently scoring with different text handling.
PREPROCESSORS: dict[str, Callable[[str], str]] = {f"{CLEAN_VERSION}+lower": _clean_lower}
DEFAULT_PREPROCESS = f"{CLEAN_VERSION}+lower"
_WHITE_SPACES = re.compile(r"\s\s+")  # sklearn's whitespace normalisation before char n-grams


@dataclass(frozen=True)
class Featurizer:
    """One TF-IDF featuriser: analyzer settings, vocabulary and idf weights."""

    analyzer: str
    ngram_range: tuple[int, int]
    token_pattern: re.Pattern[str]
    sublinear_tf: bool
    vocabulary: dict[str, int]
    idf: FloatArray

    def terms(self, text: str) -> list[str]:
        """The n-grams of `text`, as sklearn's analyzer yields them (duplicates included)."""
        if self.analyzer == "word":
            return word_ngrams(self.token_pattern.findall(text), self.ngram_range)
        return char_wb_ngrams(text, self.ngram_range)

    def weigh(self, counts: Counter[str]) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """Column indices and L2-normalised TF-IDF values of a text's known terms."""
        known = [(self.vocabulary[t], c) for t, c in counts.items() if t in self.vocabulary]
        if not known:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        known.sort()
        index = np.fromiter((i for i, _ in known), dtype=np.int64, count=len(known))
        tf = np.fromiter((c for _, c in known), dtype=np.float64, count=len(known))
        if self.sublinear_tf:
            tf = np.log(tf) + 1.0
        values = tf * self.idf[index]
        norm = math.sqrt(float(np.dot(values, values)))
        if norm > 0.0:
            values = values / norm
        return index, values


def word_ngrams(tokens: list[str], ngram_range: tuple[int, int]) -> list[str]:
    """Word n-grams joined by a space (sklearn's _word_ngrams without stop words)."""
    min_n, max_n = ngram_range
    grams: list[str] = list(tokens) if min_n == 1 else []
    for n in range(max(min_n, 2), min(max_n, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """Character n-grams inside space-padded words (sklearn's _char_wb_ngrams)."""
    min_n, max_n = ngram_range
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(min_n, max_n + 1):
            offset = 0
            grams.append(padded[offset : offset + n])
            while offset + n < length:
                offset += 1
                grams.append(padded[offset : offset + n])
            if offset == 0:  # a word shorter than n is counted once, as sklearn does
                break
    return grams


def _read_json(path: Path, limit: int) -> object:
    if not path.is_file():
        raise InvalidInput(f"serving artifact file {path.name} is missing")
    if path.stat().st_size > limit:
        raise InvalidInput(f"serving artifact file {path.name} is implausibly large")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path.name} is not valid JSON: {exc}") from exc


def _safe_name(directory: Path, name: object) -> Path:
    # File names come from model.json: never let one point outside the artifact directory.
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name[0] == ".":
        raise InvalidInput(f"model.json names an invalid file {name!r}")
    return directory / name


class LinearModel:
    """A loaded `tfidf_lr` artifact: probabilities and exact per-word contributions."""

    def __init__(
        self,
        *,
        task: str,
        labels: tuple[str, ...],
        preprocess: str,
        featurizers: list[Featurizer],
        coef: FloatArray,
        intercept: FloatArray,
        temperature: float = 1.0,
        min_coverage: float | None = None,
    ) -> None:
        if preprocess not in PREPROCESSORS:
            raise InvalidInput(f"unknown preprocessing {preprocess!r} in the serving artifact")
        n_features = sum(len(f.vocabulary) for f in featurizers)
        rows = 1 if len(labels) == 2 else len(labels)
        if coef.shape != (rows, n_features) or intercept.shape != (rows,):
            raise InvalidInput(
                f"serving artifact arrays do not match: coef {coef.shape}, intercept "
                f"{intercept.shape}, {n_features} features, {len(labels)} labels"
            )
        self.task = task
        self._labels = labels
        self.preprocess = preprocess
        self._preprocess = PREPROCESSORS[preprocess]
        self.featurizers = featurizers
        self.coef = coef
        self.intercept = intercept
        if not temperature > 0:
            raise InvalidInput(f"temperature must be positive, got {temperature}")
        self.temperature = temperature
        # Out-of-distribution signal: the share of a text's words the word vocabulary knows.
        # A text below it is mostly words the model never saw (another language, jargon).
        self.min_coverage = min_coverage
        self._words = next((f for f in featurizers if f.analyzer == "word"), None)
        self._offsets = np.cumsum([0, *(len(f.vocabulary) for f in featurizers)])

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    @classmethod
    def load(cls, directory: Path) -> LinearModel:
        """Read an artifact directory (JSON and a pickle-free .npz only)."""
        manifest = _read_json(directory / "model.json", 1_000_000)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise InvalidInput(f"{directory} is not a {FORMAT} artifact")
        try:
            arrays_path = _safe_name(directory, manifest["arrays_file"])
            with np.load(arrays_path, allow_pickle=False) as arrays:
                loaded = {k: np.asarray(arrays[k], dtype=np.float64) for k in arrays.files}
            featurizers: list[Featurizer] = []
            for i, spec in enumerate(manifest["featurizers"]):
                terms = _read_json(
                    _safe_name(directory, spec["vocabulary_file"]), MAX_VOCABULARY_BYTES
                )
                if not isinstance(terms, list) or len(terms) != int(spec["n_features"]):
                    raise InvalidInput(f"vocabulary {i} does not match n_features")
                low, high = (int(v) for v in spec["ngram_range"])
                featurizers.append(
                    Featurizer(
                        analyzer=str(spec["analyzer"]),
                        ngram_range=(low, high),
                        token_pattern=re.compile(str(spec["token_pattern"])),
                        sublinear_tf=bool(spec["sublinear_tf"]),
                        vocabulary={str(t): j for j, t in enumerate(terms)},
                        idf=loaded[f"idf_{i}"],
                    )
                )
            if any(f.analyzer not in ("word", "char_wb") for f in featurizers):
                raise InvalidInput("serving artifact has an unknown analyzer")
            return cls(
                task=str(manifest["task"]),
                labels=tuple(str(label) for label in manifest["labels"]),
                preprocess=str(manifest["preprocess"]),
                featurizers=featurizers,
                coef=loaded["coef"],
                intercept=loaded["intercept"],
                temperature=float(manifest.get("temperature", 1.0)),
                min_coverage=(float(manifest["ood"]["threshold"]) if manifest.get("ood") else None),
            )
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise InvalidInput(f"serving artifact {directory} is malformed: {exc!r}") from exc

    def _features(self, text: str) -> tuple[npt.NDArray[np.int64], FloatArray]:
        processed = self._preprocess(text)
        indices: list[npt.NDArray[np.int64]] = []
        values: list[FloatArray] = []
        for featurizer, offset in zip(self.featurizers, self._offsets, strict=False):
            index, value = featurizer.weigh(Counter(featurizer.terms(processed)))
            indices.append(index + offset)
            values.append(value)
        return np.concatenate(indices), np.concatenate(values)

    def decision_function(self, texts: Sequence[str]) -> FloatArray:
        """Raw scores: (n,) for binary models, (n, classes) otherwise."""
        scores = np.empty((len(texts), self.coef.shape[0]), dtype=np.float64)
        for row, text in enumerate(texts):
            index, value = self._features(text)
            scores[row] = self.coef[:, index] @ value + self.intercept
        return scores[:, 0] if self.coef.shape[0] == 1 else scores

    def coverage(self, texts: Sequence[str]) -> FloatArray:
        """Per text, the share of its words that the word featuriser's vocabulary holds (1.0
        for a model without word features or a text without words)."""
        out = np.ones(len(texts), dtype=np.float64)
        if self._words is None:
            return out
        for row, text in enumerate(texts):
            tokens = self._words.token_pattern.findall(self._preprocess(text))
            if tokens:
                out[row] = sum(t in self._words.vocabulary for t in tokens) / len(tokens)
        return out

    def score(self, texts: Sequence[str], contexts: Contexts = None) -> Scored:
        """Probabilities with the vocabulary-coverage domain signal; contexts are not read."""
        probabilities = self.predict_proba(texts)
        if self.min_coverage is None:
            in_domain = np.ones(len(texts), dtype=bool)
        else:
            in_domain = self.coverage(texts) >= self.min_coverage
        return Scored.single(probabilities, in_domain)

    def predict_proba(self, texts: Sequence[str], contexts: Contexts = None) -> FloatArray:
        """Class probabilities, shape (len(texts), len(labels)). The linear family reads no
        context: a bag of n-grams has no place for the previous turn."""
        scores = self.decision_function(texts) / self.temperature
        if scores.ndim == 1:
            positive = 1.0 / (1.0 + np.exp(-scores))
            return np.column_stack([1.0 - positive, positive])
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        result: FloatArray = shifted / shifted.sum(axis=1, keepdims=True)
        return result

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text."""
        return [self._labels[i] for i in np.argmax(self.predict_proba(texts), axis=1)]

    def explain(self, text: str, *, max_tokens: int = 64) -> list[tuple[str, float]]:
        """Each word's exact share of the predicted class's score: the shares of all words plus
        `self.intercept` sum to the decision function (binary: positive-class logit, sign
        flipped when the negative class is predicted; multi-class: the class's logit).

        A feature's contribution (value x weight) is split evenly over its occurrences, and each
        occurrence is credited to the word it lies in (a word bigram half to each word)."""
        processed = self._preprocess(text)
        words = list(re.finditer(r"\S+", processed))
        if not words:
            return []
        starts = [w.start() for w in words]
        credit = np.zeros(len(words), dtype=np.float64)
        index, value = self._features(text)
        logits = self.coef[:, index] @ value + self.intercept
        if self.coef.shape[0] == 1:
            row, sign = 0, (1.0 if logits[0] >= 0 else -1.0)
        else:
            row, sign = int(np.argmax(logits)), 1.0
        contribution = dict(
            zip(index.tolist(), (sign * self.coef[row, index] * value).tolist(), strict=True)
        )
        for featurizer, offset in zip(self.featurizers, self._offsets, strict=False):
            occurrences = self._occurrences(featurizer, processed, starts)
            totals = Counter(term for term, _ in occurrences)
            for term, owners in occurrences:
                column = featurizer.vocabulary.get(term)
                if column is None:
                    continue
                share = contribution.get(int(column + offset), 0.0) / totals[term] / len(owners)
                for owner in owners:
                    credit[owner] += share
        return [(w.group(0), float(c)) for w, c in zip(words, credit, strict=True)][:max_tokens]

    @staticmethod
    def _occurrences(
        featurizer: Featurizer, processed: str, starts: list[int]
    ) -> list[tuple[str, list[int]]]:
        """Every n-gram occurrence with the indices of the whitespace words it lies in."""

        def owner(position: int) -> int:
            # The last word starting at or before `position`.
            low, high = 0, len(starts)
            while low < high:
                mid = (low + high) // 2
                if starts[mid] <= position:
                    low = mid + 1
                else:
                    high = mid
            return max(low - 1, 0)

        found: list[tuple[str, list[int]]] = []
        if featurizer.analyzer == "word":
            tokens = list(featurizer.token_pattern.finditer(processed))
            owners = [owner(t.start()) for t in tokens]
            low, high = featurizer.ngram_range
            for n in range(low, high + 1):
                for i in range(len(tokens) - n + 1):
                    term = " ".join(t.group(0) for t in tokens[i : i + n])
                    found.append((term, owners[i : i + n]))
            return found
        for position, start in enumerate(starts):
            end = starts[position + 1] if position + 1 < len(starts) else len(processed)
            word = processed[start:end].strip()
            found.extend(
                (term, [position]) for term in char_wb_ngrams(word, featurizer.ngram_range)
            )
        return found
