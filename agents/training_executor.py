"""The Training Executor: turns an experiment request into a typed training config and a plan.

"try minilm with a lower learning rate on the newest sarcasm data" becomes: validate the data
(a gate), train that family with the config file's settings changed by typed overrides (here
optim.learning_rate at half the file's value), evaluate the new version against the quality
gates, compare it with production, and promote it to staging if both gates pass. Never to
production: the seed lets this agent promote to staging only, and policy refuses it the
production target even with an approval (policies/rego/sentimentops/tools.rego), so a request
for production is answered in words and the plan stops at staging.

Deterministic rules, no LLM. The message is data: only values from closed sets (task, family)
and numbers that the config's own models validate reach the plan; it reads the registry only
through the Toolbox (policy-checked, audited, cited as evidence). When the submitted plan has
ended, agents/flows.py posts its evaluation to the thread (agents/reports.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sentimentops.agents import intents
from sentimentops.agents.backend import Answer, Proposal, Reply, Turn
from sentimentops.agents.schemas import DraftPlan
from sentimentops.agents.toolbox import Toolbox
from sentimentops.core.errors import InvalidInput
from sentimentops.core.vocabulary import TASKS, Task
from sentimentops.training.config import (
    CONFIGS_DIR,
    FAMILIES,
    OverrideValue,
    TfidfLrConfig,
    TrainingConfig,
    apply_overrides,
    default_config_path,
    load_config,
)
from sentimentops.workflows.schemas import PlanStep

LEARNING_RATE = "optim.learning_rate"
EPOCHS = "optim.epochs"
# "lower" and "higher" learning rates: half and twice the value the draft would otherwise use.
LOWER, HIGHER = 0.5, 2.0
MAX_LEARNING_RATE = 1.0
MAX_EPOCHS = 100
# Index of the training step in the plan (after the dataset check): later steps use its version.
TRAIN_STEP = 1

_RATE = r"(?:lr|learning[\s_-]?rates?)"
_EXPLICIT_RATE = re.compile(
    rf"\b{_RATE}\b\s*(?:of|to|=|:|at|is|back to)?\s*(\d+(?:\.\d+)?(?:e[-+]?\d+)?)\b", re.ASCII
)
_LOWER_RATE = re.compile(
    rf"\b(?:lower\w*|smaller|reduc\w*|decreas\w*|halv\w*|less|slower)\b(?:\s+(?:the|a|it))?"
    rf"(?:\s+(?:still|further|again))?\s+{_RATE}\b|\b{_RATE}\s+(?:lower\w*|halv\w*|reduc\w*)",
    re.ASCII,
)
_HIGHER_RATE = re.compile(
    rf"\b(?:higher|larger|bigger|rais\w*|increas\w*|doubl\w*|more|faster)\b"
    rf"(?:\s+(?:the|a|it))?(?:\s+(?:still|further|again))?\s+{_RATE}\b"
    rf"|\b{_RATE}\s+(?:higher|rais\w*|increas\w*|doubl\w*)",
    re.ASCII,
)
_DEFAULT_RATE = re.compile(
    rf"\b(?:default|original|file's|reset\w*|usual)\b(?:\s+the)?\s+{_RATE}\b", re.ASCII
)
# Spelled-out numbers are digits by then (intents.number_words).
_EPOCH_NUMBER = r"(\d{1,4})"
_EPOCHS = re.compile(
    rf"\b{_EPOCH_NUMBER}\s*epochs?\b|\bepochs?\s*(?:of|to|=|:)?\s*{_EPOCH_NUMBER}\b", re.ASCII
)
_ALL_DATA = re.compile(
    r"\ball (?:of )?(?:the )?(?:data|texts|samples|rows|examples)\b|\bfull (?:data\w*|set)\b"
    r"|\bno subset\b|\bwithout (?:a )?subset\b",
    re.ASCII,
)
# Asking for production: answered in words; this agent's plans end at staging.
# (A verb of moving a model, then production: "compare it to production" is no such request.)
_PRODUCTION = re.compile(
    r"\b(?:promot\w*|ship\w*|deploy\w*|releas\w*|push\w*|mov\w*|put|send|roll\w* out|take"
    r"|bring)\b.{0,60}?\b(?:(?:to|into|in|on)\s+(?:the\s+)?(?:production|prod)|live)\b"
    r"|\bpromot\w*\b.{0,60}\bproduction\b|\bgo(?:es)? live\b",
    re.ASCII,
)
_TRAINING = re.compile(
    r"\b(?:re-?train\w*|train\w*|try\w*|fine-?tun\w*|experiment\w*|fit\w*|epochs?|lr)\b"
    r"|\blearning[\s_-]?rate",
    re.ASCII,
)
# Model names people ask for that are not families here: asked about, never guessed.
_OTHER_MODELS = re.compile(
    r"\b(?:roberta|distilbert|deberta|electra|xlnet|albert|gpt[\w.-]*|llama[\w.-]*|t5|xgboost"
    r"|svm|random forests?|naive bayes)\b",
    re.ASCII,
)

PRODUCTION_REFUSAL = (
    "I never promote to production: the training executor may promote to staging only. "
    "Production needs the planner's lifecycle plan and a human approval."
)
HELP = (
    "I turn an experiment request into a training plan, e.g. 'try minilm with a lower "
    "learning rate on the newest sarcasm data', 'train tfidf_lr for sentiment on a subset of "
    "2000', 'train notebook for sarcasm with 2 epochs and lr 1e-3'. Families: "
    f"{', '.join(FAMILIES)}; tasks: {', '.join(TASKS)}. The plan validates the data, trains, "
    "evaluates the new version against the gates, compares it with production and promotes it "
    "to staging if both gates pass; I post its evaluation here when it ends. " + PRODUCTION_REFUSAL
)


@dataclass(frozen=True)
class Experiment:
    """What a training plan is made from: typed, validated before it becomes steps."""

    task: Task
    family: str
    overrides: dict[str, OverrideValue] = field(default_factory=dict)
    max_train_samples: int | None = None
    newest_data: bool = False


@dataclass(frozen=True)
class _Asked:
    """What one message asks to set or change (None: not mentioned)."""

    task: Task | None
    family: str | None
    rate_factor: float | None
    rate: float | None
    default_rate: bool
    epochs: int | None
    max_train_samples: int | None
    all_data: bool
    newest_data: bool
    production: bool
    training: bool
    other_model: str | None

    @property
    def changes(self) -> bool:
        named = (self.task, self.family, self.rate_factor, self.rate, self.epochs)
        return (
            any(value is not None for value in named)
            or self.max_train_samples is not None
            or self.default_rate
            or self.all_data
            or self.newest_data
        )


def _read(message: str) -> _Asked:
    text = intents.number_words(intents.normalize(message))
    intent = intents.parse(message)
    explicit = _EXPLICIT_RATE.search(text)
    epochs = _EPOCHS.search(text)
    epoch_word = next((g for g in epochs.groups() if g), None) if epochs else None
    other = _OTHER_MODELS.search(text)
    factor = LOWER if _LOWER_RATE.search(text) else HIGHER if _HIGHER_RATE.search(text) else None
    return _Asked(
        task=intent.task,
        family=intent.family,
        rate_factor=None if explicit else factor,
        rate=float(explicit.group(1)) if explicit else None,
        default_rate=bool(_DEFAULT_RATE.search(text)),
        epochs=_count(epoch_word),
        max_train_samples=intent.max_train_samples,
        all_data=bool(_ALL_DATA.search(text)),
        newest_data=intent.newest_data,
        production=bool(_PRODUCTION.search(text)),
        training=bool(_TRAINING.search(text)),
        other_model=other.group(0) if other else None,
    )


def _count(word: str | None) -> int | None:
    return None if word is None else int(word)


def _file_config(task: Task, family: str) -> TrainingConfig:
    return load_config(default_config_path(task, family))


def _config_file(task: Task, family: str) -> str:
    return str(default_config_path(task, family).relative_to(CONFIGS_DIR.parent.parent))


def _number(value: float) -> float:
    """A learning rate as people write it (2.5e-05, not 2.5000000000000004e-05)."""
    return float(f"{value:.6g}")


class _Refused(Exception):
    """The request cannot become a plan; the message says why (the reply is an Answer)."""


def _apply(base: Experiment, asked: _Asked) -> Experiment:
    """`base` with the changes `asked` names, each checked against the family's config."""
    task = asked.task or base.task
    family = asked.family or base.family
    if family not in FAMILIES:
        raise _Refused(f"I cannot train {family!r}; families: {', '.join(FAMILIES)}.")
    config = _file_config(task, family)
    # Settings chosen against another config file do not carry over: its values differ (a
    # minilm learning rate is no rate for the notebook's BiLSTM).
    same_config = (task, family) == (base.task, base.family)
    overrides = dict(base.overrides) if same_config else {}
    if asked.default_rate:
        overrides.pop(LEARNING_RATE, None)
    if asked.rate is not None or asked.rate_factor is not None:
        if isinstance(config, TfidfLrConfig):
            raise _Refused(
                f"{family} is a logistic regression: it has no learning rate "
                f"(its strength setting is classifier.C = {config.classifier.C:g} in "
                f"{_config_file(task, family)}). Ask for minilm or notebook to tune one."
            )
        current = float(overrides.get(LEARNING_RATE, config.optim.learning_rate))
        rate = asked.rate if asked.rate is not None else current * (asked.rate_factor or 1.0)
        if not 0.0 < rate <= MAX_LEARNING_RATE:
            raise _Refused(f"a learning rate of {rate:g} is out of range (0, {MAX_LEARNING_RATE}].")
        overrides[LEARNING_RATE] = _number(rate)
    if asked.epochs is not None:
        if isinstance(config, TfidfLrConfig):
            raise _Refused(f"{family} trains in one pass: it has no epochs.")
        if not 1 <= asked.epochs <= MAX_EPOCHS:
            raise _Refused(f"{asked.epochs} epochs is out of range (1 to {MAX_EPOCHS}).")
        overrides[EPOCHS] = asked.epochs
    samples = None if asked.all_data else asked.max_train_samples or base.max_train_samples
    if samples is not None and samples < 2:
        raise _Refused("a training subset needs at least 2 texts.")
    try:
        apply_overrides(config, overrides)
    except InvalidInput as exc:
        raise _Refused(str(exc)) from exc
    return Experiment(
        task=task,
        family=family,
        overrides=overrides,
        max_train_samples=samples,
        newest_data=asked.newest_data or base.newest_data,
    )


def _from_draft(draft: DraftPlan) -> Experiment | None:
    """The experiment a waiting draft of this agent trains (None: not one of its drafts)."""
    train = next((s for s in draft.steps if s.tool == "train_model"), None)
    if train is None or train.params.get("task") not in TASKS:
        return None
    task: Task = train.params["task"]
    return Experiment(
        task=task,
        family=str(train.params.get("family", "tfidf_lr")),
        overrides=dict(train.params.get("config_overrides") or {}),
        max_train_samples=train.params.get("max_train_samples"),
        newest_data=any(
            s.tool == "validate_dataset" and "newest" in s.rationale for s in draft.steps
        ),
    )


def _value(value: OverrideValue | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _file_value(config: TrainingConfig, key: str) -> OverrideValue | None:
    data: Any = config.model_dump(mode="json")
    if key.startswith("optim.") and not isinstance(config, TfidfLrConfig):
        data = {"optim": config.optim.model_dump(mode="json")}
    for part in key.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    value: OverrideValue | None = data
    return value


def config_diff(experiment: Experiment) -> list[str]:
    """The typed config change, one line per setting: "key: file value -> new value"."""
    config = _file_config(experiment.task, experiment.family)
    lines = [
        f"{key}: {_value(_file_value(config, key))} -> {_value(value)}"
        for key, value in sorted(experiment.overrides.items())
    ]
    if experiment.max_train_samples is not None:
        lines.append(f"training texts: all -> a seeded subset of {experiment.max_train_samples:,}")
    return lines


def steps_for(experiment: Experiment) -> list[PlanStep]:
    """validate (gate) -> train -> evaluate (gate) -> compare with production (gate) -> staging."""
    task = experiment.task
    train: dict[str, Any] = {"task": task, "family": experiment.family}
    if experiment.overrides:
        train["config_overrides"] = dict(experiment.overrides)
    if experiment.max_train_samples is not None:
        train["max_train_samples"] = experiment.max_train_samples
    version = f"${{steps.{TRAIN_STEP}.version}}"
    data = "the newest data" if experiment.newest_data else "the data"
    return [
        PlanStep(
            tool="validate_dataset",
            params={"task": task},
            gate=True,
            rationale=f"{data} must pass validation before anything trains",
        ),
        PlanStep(tool="train_model", params=train, rationale="the requested experiment"),
        PlanStep(
            tool="evaluate_model",
            params={"task": task, "version": version},
            gate=True,
            rationale="the new version must pass the quality gates",
        ),
        PlanStep(
            tool="compare_models",
            params={"task": task, "candidate_version": version},
            gate=True,
            rationale="the new version must not regress against production",
        ),
        PlanStep(
            tool="promote_model",
            params={"task": task, "version": version, "target": "staging"},
            rationale="staging only: production needs the planner's lifecycle and a human",
        ),
    ]


def _baseline(registry: dict[str, Any]) -> str:
    aliases = registry.get("aliases") or {}
    version = aliases.get("production")
    if not version:
        return "no production version yet, so only the candidate's own gates apply"
    metrics = (registry.get("metrics") or {}).get(version) or {}
    shown = [
        f"{label} {metrics[key]:.4f}"
        for key, label in (("test_accuracy", "test accuracy"), ("test_macro_f1", "macro-F1"))
        if isinstance(metrics.get(key), int | float)
    ]
    return f"production v{version}" + (f" ({', '.join(shown)})" if shown else "")


def _proposal(
    experiment: Experiment, registry: dict[str, Any], tools: Toolbox, production_asked: bool
) -> Proposal:
    data = " on the newest data" if experiment.newest_data else ""
    lines = [PRODUCTION_REFUSAL + " This plan stops at staging."] if production_asked else []
    lines.append(f"Experiment: train {experiment.family} for {experiment.task}{data}.")
    diff = config_diff(experiment)
    source = _config_file(experiment.task, experiment.family)
    if diff:
        lines.append(f"Config {source}, changed:")
        lines += [f"- {line}" for line in diff]
    else:
        lines.append(f"Config {source} as it is.")
    lines.append(
        "Then: evaluate the new version against the quality gates, compare it with "
        f"{_baseline(registry)}, and promote it to staging only if both gates pass."
    )
    production = (registry.get("aliases") or {}).get("production")
    return Proposal(
        rationale="\n".join(lines),
        expected_effect=(
            f"a new {experiment.task} version ({experiment.family}) registered as candidate and "
            "moved to staging if it passes the gates; production stays "
            + (f"v{production}" if production else "unset")
            + ". I post the evaluation here when the plan ends."
        ),
        steps=steps_for(experiment),
        evidence=list(tools.evidence),
    )


class TrainingExecutorBackend:
    """Experiment requests to training plans that end at staging (see the module docstring)."""

    name = "training-executor"

    async def respond(self, turn: Turn, tools: Toolbox) -> Reply:
        asked = _read(turn.message)
        base = _from_draft(turn.draft) if turn.draft is not None else None
        if asked.production and (base is not None or not asked.training):
            return Answer(text=PRODUCTION_REFUSAL + " Ask me for an experiment to stage instead.")
        if asked.other_model and asked.family is None:
            return Answer(
                text=f"I cannot train {asked.other_model}: the families here are "
                f"{', '.join(FAMILIES)}. Which one should I use?"
            )
        if base is not None:
            return await self._revise(base, asked, tools)
        if asked.task is None:
            return Answer(text="Which task should I train: sentiment or sarcasm? " + HELP)
        if not (asked.training or asked.family):
            return Answer(text=HELP)
        registry = await tools.call("list_model_versions", {"task": asked.task})
        family = asked.family or _production_family(registry)
        if family is None:
            return Answer(
                text=f"Which family should I train for {asked.task}: {', '.join(FAMILIES)}? "
                "(Without one named I take production's, and its family is not recorded.)",
                evidence=list(tools.evidence),
            )
        try:
            experiment = _apply(Experiment(task=asked.task, family=family), asked)
        except _Refused as exc:
            return Answer(text=str(exc), evidence=list(tools.evidence))
        return _proposal(experiment, registry, tools, production_asked=asked.production)

    async def _revise(self, base: Experiment, asked: _Asked, tools: Toolbox) -> Reply:
        if not asked.changes:
            return Answer(
                text="I found no change to make to the draft (task, family, learning rate, "
                "epochs, subset size or data). It still waits for you to submit or drop it."
            )
        try:
            experiment = _apply(base, asked)
        except _Refused as exc:
            return Answer(text=f"{exc} The draft is unchanged and still waits.")
        registry = await tools.call("list_model_versions", {"task": experiment.task})
        return _proposal(experiment, registry, tools, production_asked=False)


def _production_family(registry: dict[str, Any]) -> str | None:
    """The family production's version was trained with, when the registry recorded it."""
    production = (registry.get("aliases") or {}).get("production")
    family = (registry.get("families") or {}).get(production) if production else None
    return family if family in FAMILIES else None
