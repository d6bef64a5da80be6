"""Keyword vectors for the sparse half of hybrid search (BM25).

A text becomes terms (case-folded words; an identifier such as `get_service_metrics` counts as
itself and as its parts; English stop words dropped; a light suffix stripper so that "rolled",
"rolling" and "rolls" meet "roll"), and the terms a sparse vector: index = CRC-32 of the term,
value = BM25's saturated term frequency. Qdrant multiplies in the inverse document frequency
itself (the collection's sparse vector has Modifier.IDF, in local mode as on a server), so the
score of a query (each of its terms with weight 1) is BM25."""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass

# BM25's usual constants; AVERAGE_TERMS is a chunk's typical length in terms (about 1,200
# characters), fixed so that a chunk's vector does not change when other chunks come and go.
K1 = 1.2
B = 0.75
AVERAGE_TERMS = 120.0

_WORD = re.compile(r"[^\W_]+(?:[_.-][^\W_]+)*")
_PART = re.compile(r"[^\W_]+")
STOP_WORDS = frozenset([
    "a", "about", "above", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at",
    "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can",
    "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from",
    "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how",
    "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my",
    "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours",
    "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the",
    "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to",
    "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
])  # fmt: skip


def _stem(word: str) -> str:
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The text's terms in order (with repeats)."""
    found: list[str] = []
    for match in _WORD.finditer(unicodedata.normalize("NFKC", text).casefold()):
        word = match.group(0)
        parts = _PART.findall(word)
        if len(parts) > 1:
            found.append(word)
        found.extend(_stem(p) for p in parts if p not in STOP_WORDS)
    return found


def term_id(term: str) -> int:
    return zlib.crc32(term.encode())


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]


def _vector(weights: dict[int, float]) -> SparseVector:
    ordered = sorted(weights)
    return SparseVector(indices=ordered, values=[weights[i] for i in ordered])


def document_vector(text: str) -> SparseVector:
    """BM25 term weights of a stored text (without IDF, which Qdrant applies)."""
    counts = Counter(terms(text))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / AVERAGE_TERMS)
    weights: dict[int, float] = {}
    for term, tf in counts.items():
        index = term_id(term)
        weights[index] = weights.get(index, 0.0) + tf * (K1 + 1) / (tf + norm)
    return _vector(weights)


def query_vector(text: str) -> SparseVector:
    """Each distinct query term once, weight 1."""
    return _vector({term_id(t): 1.0 for t in set(terms(text))})
