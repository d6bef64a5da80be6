"""Request and response bodies of the scoring API. Unknown fields are rejected; every text is
bounded in size and cleaned of control characters before it reaches a model."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Task = Literal["sentiment", "sarcasm"]
TASKS: tuple[Task, ...] = ("sentiment", "sarcasm")

# Hard ceilings of the schema; settings can only lower them (checked in the service).
MAX_TEXT_CHARS = 100_000
MAX_BATCH = 1024

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


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_clean)]


class ScoreRequest(BaseModel):
    """Either `text` (one) or `texts` (a batch)."""

    model_config = ConfigDict(extra="forbid")

    text: Text | None = None
    texts: list[Text] | None = Field(default=None, min_length=1, max_length=MAX_BATCH)
    explain: bool = Field(default=False, description="Add per-token contributions.")

    @model_validator(mode="after")
    def _one_of(self) -> ScoreRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of `text` or `texts`")
        return self

    @property
    def items(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str


class TokenWeight(BaseModel):
    token: str
    weight: float


class Prediction(BaseModel):
    label: str
    probability: float = Field(description="Probability of `label`.")
    scores: dict[str, float] = Field(description="Probability of every label.")
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


class StreamResult(BaseModel):
    id: str
    task: Task
    prediction: Prediction | None = None
    error: str | None = None
