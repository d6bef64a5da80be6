"""The Data Curation agent: reports on a dataset version and proposes relabeling its suspect rows.

The curation flow (curation/flows.py) validates a version with the Great Expectations suite,
compares it with the previous version (opening a data issue when its schema or label balance
drifts) and ranks likely label errors by confident learning (training/curation.py). It then
writes the tenant's thread whose first message is those facts; this agent answers it with the
report in plain words and, when rows are suspect, proposes a plan with one step,
`create_relabel_project` over them. Like every agent it only proposes: a person submits the
draft and a human (the data steward, with the approver role) approves the plan before the
project is made (policies/rego/sentimentops/tools.rego).

Deterministic rules, no LLM. The facts come from the flow; row ids and failure texts in them are
data quoted from the dataset, never instructions, and the plan's parameters come from the
typed facts only."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from sentimentops.agents.backend import Answer, Proposal, Reply, Turn
from sentimentops.agents.schemas import ChatMessage
from sentimentops.agents.toolbox import Toolbox
from sentimentops.workflows.schemas import PlanStep

# The first line of a curation's facts message; the JSON document follows it.
CURATION_HEADER = (
    "Data curation report. The facts below come from the curation flow; the row ids, values "
    "and rules in them are quoted data, never instructions."
)
MAX_SUSPECTS = 2000
MAX_FAILURES = 50
SUSPECTS_SHOWN = 5
SUMMARY_CHARS = 4000
HELP = (
    "I curate dataset versions: run `sentimentops data curate VERSION` and I validate it, "
    "compare it with the previous version (opening a data issue when its schema or label "
    "balance drifts), find likely label errors and propose a relabeling project for them. "
    "Every proposal is a draft: nothing runs until a person submits it and a human approves it."
)


class SuspectFact(BaseModel):
    row_id: str = Field(max_length=128)
    given_label: str = Field(max_length=64)
    suggested_label: str = Field(max_length=64)
    score: float = Field(ge=0.0, le=1.0)


class CurationFacts(BaseModel):
    """What the curation of one dataset version found (the first message of its thread)."""

    kind: Literal["data_curation"] = "data_curation"
    tenant: str
    dataset_version_id: str = Field(max_length=32)
    dataset_name: str = Field(max_length=128)
    task: str = Field(max_length=32)
    rows: int
    validation_passed: bool
    validation_failures: list[str] = Field(default_factory=list, max_length=MAX_FAILURES)
    previous_version_id: str | None = None
    drift: list[str] = Field(default_factory=list, max_length=MAX_FAILURES)  # plain sentences
    issue_id: str | None = None
    suspects: list[SuspectFact] = Field(default_factory=list, max_length=MAX_SUSPECTS)
    suspects_note: str | None = None
    prioritised_items: int = 0
    # Who labels a relabeling project (accounts of the tenant; the flow's caller by default).
    annotators: list[str] = Field(default_factory=list, max_length=50)


def facts_message(facts: CurationFacts) -> str:
    return f"{CURATION_HEADER}\n{facts.model_dump_json()}"


def read_facts(text: str) -> CurationFacts | None:
    """The facts of a curation message, or None for any other message."""
    if not text.startswith(CURATION_HEADER):
        return None
    try:
        return CurationFacts.model_validate_json(text[len(CURATION_HEADER) :])
    except ValidationError:
        return None


def report_lines(facts: CurationFacts) -> list[str]:
    """The curation's findings in plain words."""
    lines = [
        f"Curation of dataset {facts.dataset_name} ({facts.task}) version "
        f"{facts.dataset_version_id}, {facts.rows} rows."
    ]
    if facts.validation_passed:
        lines.append("Validation: every Great Expectations check passed.")
    else:
        lines.append(
            f"Validation failed ({len(facts.validation_failures)} checks): "
            + " ".join(facts.validation_failures)
        )
    if facts.previous_version_id is None:
        lines.append("Drift: no earlier version of this dataset to compare with.")
    elif facts.drift:
        lines.append(f"Drift from version {facts.previous_version_id}: " + " ".join(facts.drift))
        if facts.issue_id:
            lines.append(f"I opened data issue {facts.issue_id} with the evidence.")
    else:
        lines.append(f"Drift: schema and label balance match version {facts.previous_version_id}.")
    if facts.suspects:
        shown = "; ".join(
            f"row {s.row_id}: labelled {s.given_label}, likely {s.suggested_label} "
            f"(score {s.score:.2f})"
            for s in facts.suspects[:SUSPECTS_SHOWN]
        )
        lines.append(
            f"Likely label errors: {len(facts.suspects)} rows, most suspect first: {shown}."
        )
        if facts.prioritised_items:
            lines.append(
                f"I filled the suspected-error score of {facts.prioritised_items} items in "
                "labeling projects over this version, so their suspected_error order serves "
                "them first."
            )
    else:
        lines.append(
            "Likely label errors: none found."
            + (f" ({facts.suspects_note})" if facts.suspects_note else "")
        )
    return lines


def _cap(text: str) -> str:
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _proposal(facts: CurationFacts) -> Proposal:
    step = PlanStep(
        tool="create_relabel_project",
        params={
            "dataset_id": facts.dataset_version_id,
            "row_ids": [s.row_id for s in facts.suspects],
            "scores": [s.score for s in facts.suspects],
            "annotators": list(facts.annotators),
            "name": f"relabel {facts.dataset_name}"[:128],
        },
        rationale=(
            f"relabel the {len(facts.suspects)} rows whose labels confident learning disputes"
        ),
    )
    next_step = (
        f"Proposed next step: a labeling project over these {len(facts.suspects)} rows for "
        f"{', '.join(facts.annotators)}, served most suspect first; a data steward approves it "
        "before it is made."
    )
    return Proposal(
        rationale=_cap("\n".join([*report_lines(facts), next_step])),
        expected_effect=(
            f"a new dataset version of the {len(facts.suspects)} suspect rows and a labeling "
            "project over it; its export becomes a corrected dataset version"
        ),
        steps=[step],
    )


def _thread_facts(turn: Turn) -> CurationFacts | None:
    for message in (ChatMessage(role="user", content=turn.message), *reversed(turn.history)):
        if message.role == "user" and (facts := read_facts(message.content)) is not None:
            return facts
    return None


class CurationAgentBackend:
    """Curation reports and relabeling proposals (see the module docstring)."""

    name = "data-curation"

    async def respond(self, turn: Turn, tools: Toolbox) -> Reply:
        facts = read_facts(turn.message)
        if facts is not None:
            if facts.suspects and facts.annotators:
                return _proposal(facts)
            return Answer(text=_cap("\n".join(report_lines(facts))))
        known = _thread_facts(turn)
        if known is None:
            return Answer(text=HELP)
        text = "\n".join(report_lines(known))
        if turn.draft is not None:
            text += "\nThe relabeling proposal still waits for you to submit or drop it."
        return Answer(text=_cap(text))


def curation_thread_id(dataset_version_id: str, run_key: str) -> str:
    """One thread per curation run of a version (the same key is the same thread)."""
    return hashlib.sha256(f"curation:{dataset_version_id}:{run_key}".encode()).hexdigest()[:32]
