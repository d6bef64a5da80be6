"""A routed artifact: one model version made of components, each text answered by the one
that can read it. The version is registered, promoted and swapped as one; the response names
the component (`model.route`) and the detected language.

Artifact directory (format `sentimentops.routed/v1`):
    model.json     {"format", "task", "labels", "default": "general",
                    "components": {"general": "general", "long_reviews": "long_reviews",
                                   "multilingual": "multilingual"},
                    "long_texts": {"component": "long_reviews", "min_words": 80} | null,
                    "languages": {"detector": "lingua", "candidates": ["en", "es", ...],
                                  "keep": ["en"], "min_confidence": 0.5,
                                  "component": "multilingual" | null} | null}
    <component>/   a serving artifact of another format (never a routed one)

Routing, per text: a confidently detected language outside `keep` goes to the language
component (or, when it is null, stays on the default and is marked out of domain: no model of
this version reads that language); otherwise a text of at least `min_words` words goes to the
long-text component; everything else to the default. Detection is lingua restricted to the
candidate languages (about 0.4 ms per short text on one core); short or ambiguous texts ("lol
ok") stay with the default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sentimentops.inference.runtime.base import (
    Contexts,
    FloatArray,
    Scored,
    Scorer,
    occlusion_explain,
)

FORMAT = "sentimentops.routed/v1"
_NAME = re.compile(r"[A-Za-z0-9_-]+")
# Fewer words than this give lingua too little to go on: such texts stay on the default.
MIN_DETECT_WORDS = 3
DETECT_MAX_CHARS = 300


class LongTexts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    component: str
    min_words: int = Field(ge=1)


class Languages(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detector: str = "lingua"
    candidates: tuple[str, ...] = Field(min_length=2)
    keep: tuple[str, ...] = Field(min_length=1)
    min_confidence: float = Field(ge=0.0, le=1.0)
    component: str | None


class RoutedSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: str
    task: str
    labels: tuple[str, ...] = Field(min_length=2)
    default: str
    components: dict[str, str] = Field(min_length=1)
    long_texts: LongTexts | None = None
    languages: Languages | None = None


Detect = Callable[[Sequence[str]], list[tuple[str | None, float]]]


@lru_cache(maxsize=4)
def lingua_detector(candidates: tuple[str, ...]) -> Detect:
    """lingua restricted to `candidates` (ISO 639-1); its models load on first use."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    unknown = [code for code in candidates if not hasattr(IsoCode639_1, code.upper())]
    if unknown:
        raise ValueError(f"unknown language codes {unknown} for the detector")
    codes = [getattr(IsoCode639_1, code.upper()) for code in candidates]
    detector = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()

    def detect(texts: Sequence[str]) -> list[tuple[str | None, float]]:
        out: list[tuple[str | None, float]] = []
        for text in texts:
            if len(text.split()) < MIN_DETECT_WORDS:
                out.append((None, 0.0))
                continue
            values = detector.compute_language_confidence_values(text[:DETECT_MAX_CHARS])
            if not values:
                out.append((None, 0.0))
                continue
            top: Any = values[0]
            out.append((top.language.iso_code_639_1.name.lower(), float(top.value)))
        return out

    return detect


class RoutedModel:
    """Components loaded through `load`, texts dispatched per the manifest's rules."""

    def __init__(
        self,
        spec: RoutedSpec,
        components: dict[str, Scorer],
        detect: Detect | None,
    ) -> None:
        self.spec = spec
        self.components = components
        self._detect = detect

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    @classmethod
    def load(
        cls,
        directory: Path,
        *,
        threads: int | None,
        load_component: Callable[[Path, int | None], Scorer],
    ) -> RoutedModel:
        spec = RoutedSpec.model_validate(json.loads((directory / "model.json").read_text("utf-8")))
        if spec.format != FORMAT:
            raise ValueError(f"not a {FORMAT} artifact: {spec.format}")
        named = {spec.default}
        if spec.long_texts is not None:
            named.add(spec.long_texts.component)
        if spec.languages is not None and spec.languages.component is not None:
            named.add(spec.languages.component)
        missing = named - set(spec.components)
        if missing:
            raise ValueError(f"model.json routes to unknown components {sorted(missing)}")
        components: dict[str, Scorer] = {}
        for name, relative in spec.components.items():
            # Names come from model.json: never let one leave the artifact directory.
            if not _NAME.fullmatch(name) or not _NAME.fullmatch(relative):
                raise ValueError(f"invalid component {name!r} → {relative!r}")
            path = directory / relative
            if (path / "model.json").is_file() and FORMAT in (path / "model.json").read_text(
                "utf-8"
            ):
                raise ValueError("a routed artifact cannot contain another routed artifact")
            scorer = load_component(path, threads)
            if tuple(scorer.labels) != spec.labels:
                raise ValueError(f"component {name} has labels {scorer.labels}, not {spec.labels}")
            components[name] = scorer
        detect = None
        if spec.languages is not None:
            if spec.languages.detector != "lingua":
                raise ValueError(f"unknown language detector {spec.languages.detector!r}")
            detect = lingua_detector(tuple(spec.languages.candidates))
        return cls(spec, components, detect)

    def route(self, texts: Sequence[str]) -> tuple[list[str], list[str | None], list[bool]]:
        """Per text: the component, the detected language, and whether the version reads it."""
        spec = self.spec
        routes = [spec.default] * len(texts)
        languages: list[str | None] = [None] * len(texts)
        readable = [True] * len(texts)
        if self._detect is not None and spec.languages is not None:
            for i, (language, confidence) in enumerate(self._detect(texts)):
                languages[i] = language
                foreign = (
                    language is not None
                    and language not in spec.languages.keep
                    and confidence >= spec.languages.min_confidence
                )
                if foreign:
                    if spec.languages.component is not None:
                        routes[i] = spec.languages.component
                    else:
                        readable[i] = False
        if spec.long_texts is not None:
            for i, text in enumerate(texts):
                if routes[i] == spec.default and len(text.split()) >= spec.long_texts.min_words:
                    routes[i] = spec.long_texts.component
        return routes, languages, readable

    def score(self, texts: Sequence[str], contexts: Contexts = None) -> Scored:
        routes, languages, readable = self.route(texts)
        probabilities = np.zeros((len(texts), len(self.labels)))
        in_domain = np.array(readable, dtype=bool)
        for name in sorted(set(routes)):
            index = [i for i, r in enumerate(routes) if r == name]
            part = self.components[name].score(
                [texts[i] for i in index],
                [contexts[i] for i in index] if contexts is not None else None,
            )
            probabilities[index] = part.probabilities
            in_domain[index] &= part.in_domain
        return Scored(probabilities, in_domain, routes, languages)

    def predict_proba(self, texts: Sequence[str], contexts: Contexts = None) -> FloatArray:
        return self.score(texts, contexts).probabilities

    def explain(self, text: str, *, max_tokens: int) -> list[tuple[str, float]]:
        return occlusion_explain(self, text, max_tokens=max_tokens)


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Validate and write a routed artifact's model.json (the components must be in place)."""
    spec = RoutedSpec.model_validate({"format": FORMAT, **manifest})
    (directory / "model.json").write_text(
        json.dumps(spec.model_dump(mode="json"), indent=2), encoding="utf-8"
    )
