"""`sentimentops kb …`: search the knowledge base, add documents to it, see what it holds,
re-index it.

In local mode one process holds the knowledge base's folder: the API while the platform runs.
Each command then asks it through Temporal (the API serves the knowledge base's queue); when
no process holds the folder (the platform is down), the command opens it itself and shows its
progress. With SENTIMENTOPS_QDRANT_URL every command opens the server directly."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from sentimentops.app.cli.common import (
    AsOpt,
    JsonOpt,
    TenantOpt,
    cli_sessions,
    console,
    err_console,
    fail,
    flow_context,
    load_settings,
    operator_principal,
    print_json,
    run_flow,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from sentimentops.core.knowledge import KbHit, KbKind
    from sentimentops.core.settings import Settings
    from sentimentops.knowledge_base.analytics import TextAnalytics
    from sentimentops.knowledge_base.analytics_schemas import ScoredText
    from sentimentops.knowledge_base.schemas import KbStatus, ReindexResult
    from sentimentops.knowledge_base.wiring import KnowledgeRuntime

app = typer.Typer(
    help="The knowledge base (docs, runbooks, model cards, plans, incidents, your documents): "
    "search, ingest, status, reindex.",
    no_args_is_help=True,
)

# core.knowledge.KB_KINDS, spelled out: importing it (pydantic) would slow every command's start.
KINDS_HELP = "doc, model_card, run, plan, incident, audit, upload"
KindOpt = Annotated[
    list[str] | None,
    typer.Option("--kind", help=f"Only these kinds: {KINDS_HELP}.", show_default=False),
]
CuratorRoleOpt = Annotated[list[str], typer.Option("--role", help="Your roles in the tenant.")]
MARKDOWN_SUFFIXES = (".md", ".markdown")
SNIPPET_LINES = 4
EXPORTING = "exporting the MiniLM encoder to ONNX (once, about half a minute) …"


def _kinds(given: list[str] | None) -> tuple[KbKind, ...] | None:
    from sentimentops.core.knowledge import KB_KINDS

    if not given:
        return None
    unknown = [k for k in given if k not in KB_KINDS]
    if unknown:
        fail(f"unknown kind {', '.join(unknown)} (kinds: {', '.join(KB_KINDS)})")
    return tuple(k for k in KB_KINDS if k in given)


def _search_tenant(settings: Settings, slug: str | None) -> str | None:
    """The tenant whose documents a search adds to the platform's: `--tenant`, else the only
    tenant besides `platform`; None (the platform's documents only) on a fresh install."""
    from sentimentops.app.cli.common import PLATFORM_TENANT, resolve_tenant
    from sentimentops.identity import service as identity

    with cli_sessions(settings)() as session:
        if slug is None:
            others = [t for t in identity.list_tenants(session) if t.slug != PLATFORM_TENANT]
            if not others:
                return None
        return resolve_tenant(session, slug).id


def _local(settings: Settings) -> KnowledgeRuntime | None:
    """The knowledge base opened by this command, or None when another process holds it."""
    from sentimentops.inference.wiring import serving_registry
    from sentimentops.knowledge_base.wiring import open_here

    registry = serving_registry(settings)
    return open_here(
        settings,
        sessions=cli_sessions(settings),
        registry=lambda: registry,
        on_export=lambda: err_console.print(EXPORTING),
    )


def _snippet(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    shown = "\n".join(f"   {line}" for line in lines[:SNIPPET_LINES])
    return shown + ("\n   …" if len(lines) > SNIPPET_LINES else "")


def _print_hits(hits: list[KbHit]) -> None:
    from rich.markup import escape

    if not hits:
        console.print("nothing found")
        return
    for rank, hit in enumerate(hits, start=1):
        where = " › ".join(hit.heading_path) or hit.source
        console.print(
            f"[bold]{rank}. {escape(where)}[/]  [dim]({hit.kind}, score {hit.score:.4f})[/]",
            soft_wrap=True,
        )
        console.print(escape(_snippet(hit.text)), soft_wrap=True, highlight=False)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in words.")],
    limit: Annotated[int, typer.Option(min=1, max=20)] = 5,
    kind: KindOpt = None,
    tenant: TenantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search the platform's documents and the tenant's own (best first)."""
    import asyncio

    from sentimentops.knowledge_base.workflow import RemoteKnowledge

    settings = load_settings()
    tenant_id = _search_tenant(settings, tenant)
    kinds = _kinds(kind)

    async def work() -> tuple[list[KbHit], bool]:
        """The hits, and whether the platform's documents are indexed at all yet."""
        runtime = await asyncio.to_thread(_local, settings)
        source: KnowledgeRuntime | RemoteKnowledge = runtime or RemoteKnowledge(settings)
        try:
            found = await source.search(tenant_id=tenant_id, query=query, limit=limit, kinds=kinds)
            if found:
                return found, True
            if runtime is not None:
                status = await asyncio.to_thread(runtime.status, None)
            else:
                status = await RemoteKnowledge(settings).status(None)
            return found, sum(status.platform_chunks.values()) > 0
        finally:
            if runtime is not None:
                runtime.close()

    hits, indexed = run_flow(work())
    if as_json:
        print_json(hits)
    elif not indexed:
        err_console.print(
            "the knowledge base holds no documents yet: on a first start `up` indexes the docs "
            "in the background (a minute or two); `sentimentops kb status` shows progress"
        )
    else:
        _print_hits(hits)


def _reindex_here(runtime: KnowledgeRuntime, scopes: list[str] | None) -> ReindexResult:
    """Re-index in this process, one progress bar per scope."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from sentimentops.knowledge_base.schemas import ReindexResult

    results = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    # On stderr: the progress is not the result (stdout stays JSON with --json).
    with Progress(*columns, console=err_console, transient=False) as bars:
        for scope in runtime.scopes(scopes):
            task = bars.add_task(f"{scope}: embedding", total=None)

            def advance(done: int, total: int, task: Any = task) -> None:
                bars.update(task, completed=done, total=total)

            result = runtime.sync_scope(scope, advance)
            bars.update(
                task,
                description=f"{scope}: {result.chunks} chunks, {result.embedded} embedded, "
                f"{result.deleted} deleted",
                completed=result.embedded,
                total=max(result.embedded, 1),
            )
            results.append(result)
    return ReindexResult(scopes=results)


def _reindex(settings: Settings, scopes: list[str] | None) -> ReindexResult:
    import asyncio

    from sentimentops.knowledge_base.workflow import RemoteKnowledge

    runtime = _local(settings)
    if runtime is None:
        console.print(
            "the platform holds the knowledge base: re-indexing there, through Temporal …"
        )
        return run_flow(RemoteKnowledge(settings).reindex(scopes))
    try:
        return run_flow(asyncio.to_thread(_reindex_here, runtime, scopes))
    finally:
        runtime.close()


def _print_reindex(result: ReindexResult, *, as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    for scope in result.scopes:
        console.print(
            f"{scope.scope}: {scope.sources} sources, {scope.chunks} chunks, "
            f"{scope.embedded} embedded, {scope.deleted} deleted",
            soft_wrap=True,
        )


@app.command()
def reindex(
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="docs, models, tenants (every tenant's), or tenant:<id>; default: everything.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-index: embed what is new or changed, delete what is gone (idempotent)."""
    _print_reindex(_reindex(load_settings(), scope or None), as_json=as_json)


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Markdown (.md) or text files to add as the tenant's documents; none: re-index "
            "everything.",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    tenant: TenantOpt = None,
    name: AsOpt = "operator",
    roles: CuratorRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """Add documents to the tenant's knowledge base and index them.

    Only the tenant finds them. A progress bar shows the embedding; without files, everything
    is re-indexed."""
    settings = load_settings()
    if not paths:
        _print_reindex(_reindex(settings, None), as_json=as_json)
        return
    from sentimentops.knowledge_base.flows import add_document_flow
    from sentimentops.knowledge_base.wiring import TENANT_PREFIX

    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    ctx = flow_context(settings)
    for path in paths:
        markdown = path.suffix.lower() in MARKDOWN_SUFFIXES
        row, created = run_flow(
            add_document_flow(
                ctx,
                principal,
                name=path.name,
                media_type="text/markdown" if markdown else "text/plain",
                data=path.read_bytes(),
            )
        )
        verb = "added" if created else "already there:"
        console.print(f"{verb} {path.name} as document {row.id}", soft_wrap=True)
    _print_reindex(_reindex(settings, [f"{TENANT_PREFIX}{principal.tenant_id}"]), as_json=as_json)


def _print_status(status: KbStatus) -> None:
    from rich.table import Table

    from sentimentops.core.knowledge import KB_KINDS

    table = Table("collection", *KB_KINDS, title=f"knowledge base ({status.store} Qdrant)")
    table.add_row("platform", *(str(status.platform_chunks.get(k, 0)) for k in KB_KINDS))
    table.add_row("your tenant", *(str(status.tenant_chunks.get(k, 0)) for k in KB_KINDS))
    console.print(table)
    console.print(f"documents uploaded by your tenant: {status.documents}")


@app.command()
def status(tenant: TenantOpt = None, as_json: JsonOpt = False) -> None:
    """Chunks per kind of the platform's documents and of the tenant's."""
    import asyncio

    from sentimentops.knowledge_base.workflow import RemoteKnowledge

    settings = load_settings()
    tenant_id = _search_tenant(settings, tenant)

    async def work() -> KbStatus:
        runtime = await asyncio.to_thread(_local, settings)
        if runtime is None:
            return await RemoteKnowledge(settings).status(tenant_id)
        try:
            return await asyncio.to_thread(runtime.status, tenant_id)
        finally:
            runtime.close()

    found = run_flow(work())
    if as_json:
        print_json(found)
    else:
        _print_status(found)


# --- Semantic analytics over scored texts (knowledge_base/analytics.py) ---------------------

TextReaderRoleOpt = Annotated[
    list[str], typer.Option("--role", help="Your roles in the tenant (analyst, ml_engineer …).")
]
WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RequestT = TypeVar("RequestT", bound="BaseModel")


def _seconds(window: str) -> int:
    """`30d`, `24h`, `90m`, `45s` or plain seconds."""
    given = window.strip().lower()
    unit = WINDOW_UNITS.get(given[-1:], 0)
    number = given[:-1] if unit else given
    if not number.isdigit():
        fail(f"--window takes a number with d, h, m or s (e.g. 7d), not {window!r}")
    return int(number) * (unit or 1)


WindowOpt = Annotated[str, typer.Option("--window", help="How far back: 7d, 24h, 90m, or seconds.")]


def _analytics(settings: Settings) -> TextAnalytics:
    """The data directory's scored-text index, or a throwaway one in memory while another
    process (the platform's API) holds its local folder: then this command embeds its window's
    texts itself."""
    from functools import cache

    from sentimentops.knowledge_base.analytics import ScoredTextIndex, TextAnalytics
    from sentimentops.knowledge_base.embedding import encoder_path, is_current, load_encoder
    from sentimentops.knowledge_base.store import StoreUnavailable

    try:
        index = ScoredTextIndex.open(settings)
    except StoreUnavailable:
        err_console.print("the platform holds the scored-text index: embedding in memory …")
        index = ScoredTextIndex.in_memory()
    if not is_current(encoder_path(settings)):
        err_console.print(EXPORTING)
    return TextAnalytics(settings, embedder=cache(lambda: load_encoder(settings)), index=index)


def _request(model: type[RequestT], **fields: Any) -> RequestT:
    from pydantic import ValidationError

    try:
        return model(**fields)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))


def _print_text(rank: str, text: ScoredText, score: float) -> None:
    from rich.markup import escape

    when = text.created_at.strftime("%Y-%m-%d %H:%M")
    console.print(
        f"[bold]{rank}[/] [dim]{score:.3f} · {text.task} {escape(text.label)} "
        f"{text.probability:.2f} · {escape(text.model_name)} v{escape(text.model_version)} · "
        f"{when} · #{text.prediction_id}[/]",
        soft_wrap=True,
    )
    console.print(escape(_snippet(text.text)), soft_wrap=True, highlight=False)


@app.command()
def similar(
    text: Annotated[str, typer.Argument(help="A text; the tenant's scored texts nearest it.")],
    task: Annotated[
        str | None, typer.Option(help="Only texts scored for this task (sentiment, sarcasm).")
    ] = None,
    window: WindowOpt = "30d",
    limit: Annotated[int, typer.Option(min=1, max=50)] = 10,
    tenant: TenantOpt = None,
    name: AsOpt = "operator",
    roles: TextReaderRoleOpt = ["analyst"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """The tenant's scored texts most similar in meaning to TEXT.

    For tenants that store prediction texts; POST /api/v1/search/similar."""
    from sentimentops.knowledge_base.analytics_flows import similar_flow
    from sentimentops.knowledge_base.analytics_schemas import SimilarRequest

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    body = _request(
        SimilarRequest, text=text, task=task, window_seconds=_seconds(window), limit=limit
    )
    analytics = _analytics(settings)
    try:
        found = run_flow(similar_flow(flow_context(settings), analytics, principal, body))
    finally:
        analytics.close()
    if as_json:
        print_json(found)
        return
    if not found.results:
        console.print(f"nothing found among {found.searched} texts")
    for rank, result in enumerate(found.results, start=1):
        _print_text(f"{rank}.", result, result.similarity)
    if not found.complete:
        console.print(f"[dim](the newest {found.searched} texts of the window were searched)[/]")


@app.command()
def topics(
    task: Annotated[str, typer.Option(help="The task: sentiment or sarcasm.")],
    label: Annotated[str, typer.Option(help="The predicted label: negative, sarcastic …")],
    window: WindowOpt = "7d",
    max_topics: Annotated[int, typer.Option(min=1, max=12)] = 8,
    tenant: TenantOpt = None,
    name: AsOpt = "operator",
    roles: TextReaderRoleOpt = ["analyst"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """What the tenant's texts with LABEL are about: topics, keywords, examples.

    Each topic with its share, keywords and the examples nearest its centre;
    POST /api/v1/search/topics."""
    from rich.markup import escape

    from sentimentops.knowledge_base.analytics_flows import topics_flow
    from sentimentops.knowledge_base.analytics_schemas import TopicsRequest

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    body = _request(
        TopicsRequest,
        task=task,
        label=label,
        window_seconds=_seconds(window),
        max_topics=max_topics,
    )
    analytics = _analytics(settings)
    try:
        found = run_flow(topics_flow(flow_context(settings), analytics, principal, body))
    finally:
        analytics.close()
    if as_json:
        print_json(found)
        return
    console.print(f"{found.texts} {task} texts labelled {escape(label)} since {found.since:%c}")
    for number, topic in enumerate(found.topics, start=1):
        console.print(
            f"\n[bold]{number}. {escape(', '.join(topic.keywords))}[/]  "
            f"[dim]{topic.size} texts, {topic.share:.0%}[/]",
            soft_wrap=True,
        )
        for example in topic.examples:
            _print_text("  ·", example, example.similarity)
