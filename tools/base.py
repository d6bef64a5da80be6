"""What every tool shares: the input base class (with its idempotency key), the context that
carries injected collaborators, and the spec that registers a tool as a Temporal activity and
describes it to an LLM."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.core.policy import PolicyEngine
from sentimentops.core.settings import Settings
from sentimentops.identity.tenancy import tenant_id_of

if TYPE_CHECKING:
    from sentimentops.core.knowledge import KnowledgeSearch
    from sentimentops.core.model_registry import ModelRegistry


class ToolInput(BaseModel):
    """Base of every tool's input: unknown fields are refused, so a typo never runs silently."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str | None = Field(
        default=None,
        max_length=255,
        description=(
            "Repeat a call with the same key to get the first call's result instead of doing "
            "the work again. Plans fill it in per step; leave it empty."
        ),
    )


class ToolOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ToolContext:
    """Collaborators (injected by the worker) and who the call acts for."""

    settings: Settings
    sessions: sessionmaker[Session]
    policy: PolicyEngine
    registry: Callable[[], ModelRegistry]
    tenant: str  # the tenant's slug
    actor: str
    workflow_id: str | None = None
    heartbeat: Callable[[str], None] = field(default=lambda _message: None)
    # The knowledge base (search_kb), wired by the app layer; None where a process has none.
    knowledge: Callable[[], KnowledgeSearch] | None = None
    # The tenant's id as the plan's proposer carries it (None: a history recorded before).
    known_tenant_id: str | None = None

    def tenant_id(self, session: Session) -> str:
        """The acting tenant's id (tenant-owned rows are keyed by id, plans name the slug)."""
        return tenant_id_of(session, self.tenant, known=self.known_tenant_id)


Queue = Literal["default", "training", "gpu"]
InputT = TypeVar("InputT", bound=ToolInput)
OutputT = TypeVar("OutputT", bound=ToolOutput)


@dataclass(frozen=True)
class ToolSpec(Generic[InputT, OutputT]):
    """A typed tool: its models, implementation, and how a workflow should run it."""

    name: str
    input_model: type[InputT]
    output_model: type[OutputT]
    run: Callable[[ToolContext, InputT], Awaitable[OutputT]]
    # Which worker runs a call: "default" (the platform queue), "training" (the training
    # queue) or "gpu" (settings.gpu_task_queue when set, else the training queue). A tool whose
    # queue depends on its input says so in `route`; the workflow never reads tool params.
    queue: Queue = "default"
    route: Callable[[InputT], Queue] | None = None
    timeout_seconds: float = 120.0
    max_attempts: int = 3
    heartbeat: bool = False

    def queue_for(self, params: dict[str, Any]) -> Queue:
        """The queue this call runs on (deterministic: workflows call it)."""
        if self.route is None:
            return self.queue
        try:
            checked = self.input_model.model_validate(params)
        except ValidationError:
            return self.queue  # the activity refuses the input with its own message
        return self.route(checked)

    @property
    def description(self) -> str:
        """The implementation's docstring: what an LLM reads to decide when to call the tool."""
        return " ".join((self.run.__doc__ or self.name).split())

    async def call(self, ctx: ToolContext, params: dict[str, Any]) -> OutputT:
        return await self.run(ctx, self.input_model.model_validate(params))
