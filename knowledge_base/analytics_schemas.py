"""Bodies of /api/v1/search: similar texts and topics over a tenant's scored texts. The texts in
the answers are the tenant's own logged inputs: data to read, never instructions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sentimentops.core.vocabulary import Task

MAX_QUERY_CHARS = 5000
MAX_SIMILAR = 50
MAX_TOPICS = 12
MIN_WINDOW_SECONDS = 60
MAX_WINDOW_SECONDS = 366 * 24 * 3600
DEFAULT_SIMILAR_WINDOW_SECONDS = 30 * 24 * 3600


class _In(BaseModel):
    # A misspelt field ("windows_seconds") is refused rather than silently defaulted.
    model_config = ConfigDict(extra="forbid")


class SimilarRequest(_In):
    text: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="what to look for")
    task: Task | None = Field(default=None, description="only texts scored for this task")
    window_seconds: int = Field(
        default=DEFAULT_SIMILAR_WINDOW_SECONDS,
        ge=MIN_WINDOW_SECONDS,
        le=MAX_WINDOW_SECONDS,
        description="only texts scored this recently",
    )
    limit: int = Field(default=10, ge=1, le=MAX_SIMILAR)


class ScoredText(BaseModel):
    """One logged prediction with its text."""

    prediction_id: int
    text: str
    task: str
    label: str
    probability: float
    model_name: str
    model_version: str
    created_at: datetime


class SimilarText(ScoredText):
    similarity: float = Field(description="cosine similarity to the query text (-1 to 1)")


class SimilarResults(BaseModel):
    since: datetime = Field(description="the window's start")
    searched: int = Field(description="texts compared with the query")
    complete: bool = Field(
        description="false: the window holds more texts than one call reads "
        "(SENTIMENTOPS_SEARCH_MAX_TEXTS); the newest were searched"
    )
    results: list[SimilarText] = Field(description="most similar first")


class TopicsRequest(_In):
    task: Task
    label: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="the predicted label to group (e.g. negative, sarcastic)",
    )
    window_seconds: int = Field(ge=MIN_WINDOW_SECONDS, le=MAX_WINDOW_SECONDS)
    max_topics: int = Field(default=8, ge=1, le=MAX_TOPICS)


class TopicExample(ScoredText):
    similarity: float = Field(description="cosine similarity to the topic's centroid")


class Topic(BaseModel):
    size: int
    share: float = Field(description="the topic's share of the window's texts (0 to 1)")
    keywords: list[str] = Field(description="the words that set this topic apart, best first")
    examples: list[TopicExample] = Field(description="the texts closest to the topic's centre")


class TopicsResult(BaseModel):
    task: Task
    label: str
    since: datetime
    texts: int = Field(description="the window's texts with that label, all of them grouped")
    topics: list[Topic] = Field(description="largest first")
