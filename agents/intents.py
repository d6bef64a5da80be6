"""What a chat message asks, read by rules: the deterministic planner's intent recognition.

Pure functions over the message text. The text is normalised first (Unicode NFKC, so full-width
digits and letters read as ASCII; format characters such as zero-width spaces and bidi controls
removed, so they cannot hide or reorder a word; case-folded; length-capped). Every slot is a
typed value from a closed set (a task, a family, an alias) or a number parsed and range-checked
by the planner: nothing from the message is ever used as a tool name or copied into a plan as
text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from sentimentops.agents.schemas import MAX_MESSAGE_CHARS
from sentimentops.core.vocabulary import TASKS, Alias, Task

IntentKind = Literal[
    "latency",
    "drift",
    "health",
    "compare",
    "improve",
    "retrain",
    "canary",
    "rollback",
    "promote",
    "howto",
    "help",
    "unknown",
]
# Requests that would change state: answered with a draft plan, never with an action.
CHANGE_KINDS: frozenset[IntentKind] = frozenset({"retrain", "canary", "rollback", "promote"})
Metric = Literal["accuracy", "macro_f1", "roc_auc"]

HOUR = 3600.0
DAY = 86_400.0

_FLAGS = re.ASCII  # digits are ASCII only after NFKC; other scripts' digits are not numbers

_TASK_WORDS: dict[Task, re.Pattern[str]] = {
    "sentiment": re.compile(r"\bsentiments?\b|\bpolarity\b", _FLAGS),
    "sarcasm": re.compile(r"\bsarcas(?:m|tic)\w*|\biron(?:y|ic)\b", _FLAGS),
}

_FAMILY_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("minilm", re.compile(r"\bmini-?lm|\btransformer\w*|\bbert\b", _FLAGS)),
    ("tfidf_lr", re.compile(r"\btf-?idf|\blinear\b|\blogistic\b", _FLAGS)),
    ("notebook", re.compile(r"\bnotebook\b|\bkeras\b|\blstm\b|\bcnn\b", _FLAGS)),
)

_NUMBER = r"(\d{1,6}(?:\.\d+)?)"
_PERCENT = re.compile(_NUMBER + r"\s*(?:%|percent\b|per cent\b|pct\b)", _FLAGS)
# A bare fraction right after "canary"/"share" ("canary it at 0.1", "share 0.25").
_FRACTION = re.compile(
    r"\b(?:canary|share)\b[^\d.]{0,20}?(?<![\w.])(0?\.\d+|1(?:\.0+)?|0)(?![\w.%])", _FLAGS
)
_IMPROVE_FRACTION = re.compile(
    r"\b(?:above|over|beyond|past|to|reach|least)\s+(0?\.\d+)(?![\d%])", _FLAGS
)
_STEPS = re.compile(
    r"\b(\d{1,3})\s*(?:versions?|steps?|releases?|models?|promotions?)\b"
    r"|\bback\s+(\d{1,3})\b|\bby\s+(\d{1,3})\b",
    _FLAGS,
)
_VERSION = re.compile(r"\b(?:version|ver|v)\s*#?\s*(\d{1,6})\b", _FLAGS)
_SAMPLES = re.compile(
    r"\b(?:subset|sample) of\s+(\d[\d,]{0,9})\b|\b(\d[\d,]{0,9})\s*(?:training\s+)?"
    r"(?:samples|examples|rows|texts)\b",
    _FLAGS,
)
_NO_SOAK = re.compile(
    r"\b(?:skip|skipping|drop|remove)\s+(?:the\s+)?soak|\bno\s+soak"
    r"|\bwithout\s+(?:a\s+|the\s+)?soak",
    _FLAGS,
)
_SOAK = re.compile(
    r"\bsoak\w*\b(?:\s+(?:it|the canary))?(?:\s+for)?\s+(\d{1,6})\s*"
    r"(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b",
    _FLAGS,
)
_NEWEST_DATA = re.compile(
    r"\b(?:newest|latest|most recent|new|current|fresh)\b.{0,24}?\bdata(?:\s?set)?s?\b", _FLAGS
)

_UNIT_SECONDS = {
    "second": 1.0,
    "sec": 1.0,
    "s": 1.0,
    "minute": 60.0,
    "min": 60.0,
    "m": 60.0,
    "hour": HOUR,
    "hr": HOUR,
    "h": HOUR,
    "day": DAY,
    "d": DAY,
    "week": 7 * DAY,
    "w": 7 * DAY,
    "month": 30 * DAY,
}
_WINDOW_COUNT = re.compile(
    r"\b(?:last|past|previous)\s+(\d{1,4})\s*(weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m)\b",
    _FLAGS,
)
_WINDOW_ONE = re.compile(r"\b(?:last|past|previous|this)\s+(minute|hour|day|week|month)\b", _FLAGS)
_WINDOW_DAY = re.compile(r"\byesterday\b|\btoday\b|\b24\s*(?:h|hrs?|hours?)\b", _FLAGS)

_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_NUMBER_WORDS = re.compile(
    r"\b(?:(" + "|".join(_TENS) + r")(?:[\s-]+(" + "|".join(list(_UNITS)[1:10]) + r"))?"
    r"|(" + "|".join(_UNITS) + r")|(hundred))\b",
    _FLAGS,
)
_TWICE = re.compile(r"\btwice\b", _FLAGS)

# "How do I …", runbooks, the docs: a question for the knowledge base ("how do I use you" asks
# for help instead).
_HOWTO = re.compile(
    r"\bhow (?:do|can|could|should|would|must) (?:i|we|you|one|people)\b(?! use\b)"
    r"|\bhow to\b(?! use\b)|\brun-?books?\b|\bplaybooks?\b|\bprocedures?\b"
    r"|\bdocs\b|\bdocumentation\b|\bdocumented\b"
    r"|\bwhat (?:should|must|do) (?:i|we) do\b|\bwhat(?:'s| is) the (?:process|way) (?:to|for)\b",
    _FLAGS,
)

# Ordered: the first kind whose pattern matches wins (a request to act before a question about
# what it touches; "promote the candidate if it beats production" is a promotion; "how do I
# roll back" asks how, and gets the runbook, not a draft).
_KINDS: tuple[tuple[IntentKind, re.Pattern[str]], ...] = (
    (
        "improve",
        re.compile(
            r"\bwhat would it take\b|\bwhat does it take\b"
            r"|\bhow (?:can|could|do|would|to|should) (?:we |i |you )?"
            r"(?:get|reach|improve|raise|push|boost|beat|hit)\b"
            r"|\bimprove\w*|\bboost\b",
            _FLAGS,
        ),
    ),
    ("howto", _HOWTO),
    (
        "rollback",
        re.compile(
            r"\broll(?:ing|ed|s)?[\s-]*back\b|\brollback\b|\broll\b.{0,40}\bback\b|\brevert\w*"
            r"|\bundo\b|\bgo back to\b",
            _FLAGS,
        ),
    ),
    ("retrain", re.compile(r"\bre-?train\w*|\btrain\b|\bfine-?tune\w*", _FLAGS)),
    (
        "promote",
        re.compile(
            r"\bpromote\b|\bship\b|\bdeploy\b|\bgo live\b"
            r"|\b(?:move|put|push|send)\b.{0,40}\b(?:to|into)\s+(?:production|prod|staging)\b",
            _FLAGS,
        ),
    ),
    (
        "canary",
        re.compile(
            r"\b(?:end|stop|start|set|begin|increase|raise|lower|reduce|bump|change|make|put|"
            r"turn off|finish|cancel)\b.{0,40}\bcanary\b"
            r"|\bcanary\b.{0,40}(?:\d\s*(?:%|percent)|\b0?\.\d)",
            _FLAGS,
        ),
    ),
    (
        "compare",
        re.compile(
            r"\bcompar\w*|\bversus\b|\bvs\b|\bdifference between\b|\bbeats?\b|\bbetter than\b"
            r"|\bworse than\b|\bdiff\b",
            _FLAGS,
        ),
    ),
    ("drift", re.compile(r"\bdrift\w*|\bpsi\b|\bdistribution (?:shift|change)|\bshift\w*", _FLAGS)),
    (
        "latency",
        re.compile(
            r"\blatenc\w*|\bslow\w*|\bp(?:50|95|99)\b|\bresponse times?\b|\bspeed\b|\bfast\w*"
            r"|\bmillisecond\w*",
            _FLAGS,
        ),
    ),
    (
        "health",
        re.compile(
            r"\berrors?\b|\berror rate\b|\bfail\w*|\bhealth\w*|\bstatus\b|\bhow (?:is|are|s)\b"
            r"|\bhow's\b|\bvolume\b|\btraffic\b|\bdoing\b|\boverview\b|\bok(?:ay)?\b",
            _FLAGS,
        ),
    ),
    (
        "help",
        re.compile(
            r"^\W*(?:help|hi|hello|hey|\?)\W*$|\bwhat can you\b|\bwhat do you do\b"
            r"|\bhow do i use\b|\bhelp\b|\bcommands?\b",
            _FLAGS,
        ),
    ),
)


@dataclass(frozen=True)
class Intent:
    """A parsed request. `task` is None when no task or both tasks are named (`tasks` lists
    the ones named). Numbers are as parsed; the planner range-checks them before use."""

    kind: IntentKind
    tasks: tuple[Task, ...] = ()
    window_seconds: float | None = None
    share: float | None = None  # canary share, 0..1 when valid
    family: str | None = None
    steps: int | None = None
    alias: Alias | None = None  # the alias named (promotion target, rollback alias)
    version: str | None = None
    threshold: float | None = None  # "above 94 %" -> 0.94
    metric: Metric = "accuracy"
    newest_data: bool = False
    max_train_samples: int | None = None
    soak_seconds: float | None = None
    # What a how-to question is about ("how do I roll back sentiment?": rollback), when known.
    about: IntentKind | None = None

    @property
    def task(self) -> Task | None:
        return self.tasks[0] if len(self.tasks) == 1 else None


_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cs", "Co", "Cn"})


def normalize(text: str) -> str:
    """The message as the rules read it (see the module docstring)."""
    capped = text[:MAX_MESSAGE_CHARS]
    folded = unicodedata.normalize("NFKC", capped)
    kept = []
    for char in folded:
        category = unicodedata.category(char)
        if category in _INVISIBLE_CATEGORIES:
            continue  # zero-width, bidi controls, soft hyphens, unassigned: never part of a word
        kept.append(" " if category == "Cc" or char.isspace() else char)
    # NFKC can lengthen text (ligatures), so the cap applies again after it.
    return " ".join("".join(kept).casefold().split())[:MAX_MESSAGE_CHARS]


def number_words(text: str) -> str:
    """Spelled-out numbers as digits ("two versions" -> "2 versions")."""

    def value(match: re.Match[str]) -> str:
        tens, unit, single, hundred = match.groups()
        if hundred:
            return "100"
        if single:
            return str(_UNITS[single])
        return str(_TENS[tens] + (_UNITS[unit] if unit else 0))

    return _TWICE.sub("2 times", _NUMBER_WORDS.sub(value, text))


def _tasks(text: str) -> tuple[Task, ...]:
    return tuple(task for task in TASKS if _TASK_WORDS[task].search(text))


def _kind(text: str) -> IntentKind:
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return "unknown"


def _about(text: str) -> IntentKind | None:
    """The kind of the rest of a how-to question, once its how-to words are taken out."""
    kind = _kind(_HOWTO.sub(" ", text))
    return None if kind in ("howto", "unknown") else kind


def _window(text: str) -> float | None:
    found = _WINDOW_COUNT.search(text)
    if found:
        return int(found.group(1)) * _unit(found.group(2))
    found = _WINDOW_ONE.search(text)
    if found:
        return _unit(found.group(1))
    if _WINDOW_DAY.search(text):
        return DAY
    return None


def _unit(word: str) -> float:
    singular = word.rstrip("s") if len(word) > 1 else word
    return _UNIT_SECONDS[singular]


def _share(text: str) -> float | None:
    found = _PERCENT.search(text)
    if found:
        return float(found.group(1)) / 100
    found = _FRACTION.search(text)
    if found:
        return float(found.group(1))
    return None


def _threshold(text: str) -> float | None:
    found = _PERCENT.search(text)
    if found:
        return float(found.group(1)) / 100
    found = _IMPROVE_FRACTION.search(text)
    if found:
        return float(found.group(1))
    return None


def _steps(text: str) -> int | None:
    found = _STEPS.search(text)
    if found:
        return int(next(group for group in found.groups() if group))
    if "2 times" in text:
        return 2
    return None


def _family(text: str) -> str | None:
    for family, pattern in _FAMILY_WORDS:
        if pattern.search(text):
            return family
    return None


def _alias(text: str) -> Alias | None:
    if re.search(r"\bstaging\b", text):
        return "staging"
    if re.search(r"\b(?:production|prod|live)\b", text):
        return "production"
    return None


def _metric(text: str) -> Metric:
    if re.search(r"\bf1\b|\bf-score\b", text):
        return "macro_f1"
    if re.search(r"\bauc\b|\broc\b", text):
        return "roc_auc"
    return "accuracy"


def _samples(text: str) -> int | None:
    found = _SAMPLES.search(text)
    if not found:
        return None
    digits = next(group for group in found.groups() if group).replace(",", "")
    return int(digits)


def _soak(text: str) -> float | None:
    if _NO_SOAK.search(text):
        return 0.0
    found = _SOAK.search(text)
    if found:
        return int(found.group(1)) * _unit(found.group(2))
    return None


def _end_canary(text: str) -> bool:
    return bool(re.search(r"\b(?:end|stop|finish|cancel|turn off|remove)\b.{0,40}\bcanary\b", text))


def parse(message: str) -> Intent:
    """The intent and slots of a user's message."""
    text = number_words(normalize(message))
    kind = _kind(text)
    share = _share(text)
    if share is None and kind == "canary" and _end_canary(text):
        share = 0.0
    version = _VERSION.search(text)
    return Intent(
        kind=kind,
        tasks=_tasks(text),
        window_seconds=_window(text),
        share=share if kind != "improve" else None,
        family=_family(text),
        steps=_steps(text),
        alias=_alias(text),
        version=str(int(version.group(1))) if version else None,
        threshold=_threshold(text) if kind == "improve" else None,
        metric=_metric(text),
        newest_data=bool(_NEWEST_DATA.search(text)),
        max_train_samples=_samples(text),
        soak_seconds=_soak(text),
        about=_about(text) if kind == "howto" else None,
    )
