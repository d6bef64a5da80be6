"""Request and response bodies of the scoring API. Unknown fields are rejected; every text is
bounded in size and cleaned of control characters before it reaches a model."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from sentimentops.core.vocabulary import Task

# C0/C1 controls and zero-width/bidi formatting characters, except tab and newlines: invisible
# to a reader, yet they change what a model sees (and are a classic evasion trick).
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)


def _clean(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # Lone surrogates arrive through JSON "\ud800" escapes; they are not text.
        raise ValueError("text is not valid Unicode (lone surrogate)") from exc
    cleaned = _INVISIBLE.sub("", unicodedata.normalize("NFC", text)).strip()
    if not cleaned:
        raise ValueError("text is empty after removing control characters")
    return cleaned


# No length bounds in the schema: the limits are settings (MAX_TEXT_CHARS, MAX_BATCH_TEXTS),
# checked in one place, service.check_limits, so every request over a limit gets the same 422
# naming the configured value. What the parser may be handed at all is bounded before it runs,
# by the request body limit (MAX_REQUEST_BYTES, BodySizeLimitMiddleware) and, on the stream, by
# WS_MAX_MESSAGE_BYTES.
Text = Annotated[str, Field(min_length=1), AfterValidator(_clean)]
# Previous turns of a conversation, oldest first; models read the last one (the turn the text
# answers), so a few are plenty.
MAX_CONTEXT_TURNS = 8
Context = Annotated[
    list[Text],
    Field(
        max_length=MAX_CONTEXT_TURNS,
        description="Previous turns (oldest first) that the text answers, such as the parent "
        "comment or the tweet replied to. Sarcasm often cannot be read without it; models "
        "that read context use the last turn.",
    ),
]


class TextItem(BaseModel):
    """One text of a batch with its conversation context."""

    model_config = ConfigDict(extra="forbid")

    text: Text
    context: Context | None = None


class ScoreRequest(BaseModel):
    """Either `text` (one, with an optional `context`) or `texts` (a batch of strings or of
    `{"text", "context"}` objects)."""

    model_config = ConfigDict(extra="forbid")

    text: Text | None = None
    context: Context | None = None
    texts: list[Text | TextItem] | None = Field(
        default=None,
        min_length=1,
        description="At most the server's MAX_BATCH_TEXTS texts (256 unless configured).",
    )
    explain: bool = Field(default=False, description="Add per-token contributions.")

    @model_validator(mode="after")
    def _one_of(self) -> ScoreRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of `text` or `texts`")
        if self.context is not None and self.text is None:
            raise ValueError("`context` goes with `text`; in a batch give each item its own")
        return self

    @property
    def items(self) -> list[str]:
        if self.text is not None:
            return [self.text]
        return [t if isinstance(t, str) else t.text for t in self.texts or []]

    @property
    def turns(self) -> list[str]:
        """Every context turn of the request, for the limit checks (models read only the last)."""
        if self.text is not None:
            return list(self.context or [])
        items = [t for t in self.texts or [] if isinstance(t, TextItem)]
        return [turn for item in items for turn in item.context or []]

    @property
    def contexts(self) -> list[str | None]:
        """The last context turn of each text, or None."""
        if self.text is not None:
            return [self.context[-1] if self.context else None]
        return [
            t.context[-1] if isinstance(t, TextItem) and t.context else None
            for t in self.texts or []
        ]


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str
    route: str = Field(
        default="main",
        description="Which component of the version answered: `main` for a single model; for "
        "a routed version `general`, `long_reviews` (texts beyond the general model's length) "
        "or `multilingual` (text not in English).",
    )
    language: str | None = Field(
        default=None, description="The detected language (ISO 639-1) where the version routes."
    )


class TokenWeight(BaseModel):
    token: str
    weight: float


class Prediction(BaseModel):
    label: str
    probability: float = Field(description="Probability of `label`.")
    scores: dict[str, float] = Field(description="Probability of every label.")
    in_domain: bool = Field(
        default=True,
        description="False when the text is unlike what the answering model was trained on "
        '(docs/scoring.md, "Out-of-domain texts"): its answer is less reliable; route it '
        "to review or the labelling queue.",
    )
    model: ModelRef
    explanation: list[TokenWeight] | None = None


class ScoreResponse(BaseModel):
    task: Task
    predictions: list[Prediction]


class Analysis(BaseModel):
    sentiment: Prediction
    sarcasm: Prediction


class AnalyzeResponse(BaseModel):
    predictions: list[Analysis]


class StreamRequest(BaseModel):
    """One message of the WebSocket stream."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    task: Task
    text: Text
    context: Context | None = None


class StreamResult(BaseModel):
    id: str
    task: Task
    prediction: Prediction | None = None
    error: str | None = None
