"""`sentimentops data …`: ingest, process and audit content-versioned datasets.

Commands act with the operator's access to the database (actor "operator:cli" in the audit
log) on one tenant's datasets: `--tenant SLUG`, or the only tenant besides `platform`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentimentops.app.cli.common import (
    AsOpt,
    JsonOpt,
    RoleOpt,
    TenantOpt,
    cli_sessions,
    cli_transaction,
    console,
    err_console,
    fail,
    flow_context,
    id_table,
    load_settings,
    operator_principal,
    print_json,
    resolve_tenant,
    run_flow,
)
from sentimentops.core.errors import DomainError, InvalidInput

if TYPE_CHECKING:
    from rich.tree import Tree
    from sqlalchemy.orm import Session

    from sentimentops.core.settings import Settings
    from sentimentops.training.datasets.models import DatasetVersion
    from sentimentops.training.datasets.schemas import LineageNode, ValidationReport
    from sentimentops.training.datasets.service import Owner

app = typer.Typer(
    help="Versioned datasets: ingest, process, list, show, lineage.", no_args_is_help=True
)

ACTOR = "operator:cli"


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    # Imported here: the validation report type pulls in pandas, slow for `--help`.
    from sentimentops.training.datasets.errors import DatasetValidationFailed

    with cli_transaction(settings) as session:
        try:
            yield session
        except DatasetValidationFailed as exc:
            print_report(exc.report)
            raise InvalidInput("dataset rejected; nothing was stored") from exc


def _owner(session: Session, slug: str | None) -> Owner:
    from sentimentops.training.datasets.service import Owner

    tenant = resolve_tenant(session, slug)
    return Owner(tenant_id=tenant.id, tenant_label=tenant.slug, actor=ACTOR)


def print_report(report: ValidationReport) -> None:
    """The failing expectations with example rows, as a table on stderr."""
    from rich.table import Table

    table = Table(title=f"validation failed ({report.row_count:,} rows)", show_lines=True)
    table.add_column("expectation", overflow="fold")
    table.add_column("column")
    table.add_column("rows", justify="right")
    table.add_column("observed")
    table.add_column("examples (row: value)")
    for failure in report.failures:
        examples = "\n".join(
            f"{'-' if e.row is None else e.row}: {e.value}" for e in failure.examples
        )
        table.add_row(
            f"{failure.rule}\n[dim]{failure.expectation}[/]",
            failure.column,
            f"{failure.unexpected_count:,}",
            failure.observed,
            examples,
        )
    err_console.print(table)


def _out(version: DatasetVersion) -> Any:
    from sentimentops.training.datasets.schemas import DatasetVersionOut

    return DatasetVersionOut.model_validate(version).model_dump(mode="json", by_alias=True)


def _show(version: DatasetVersion) -> None:
    from rich.table import Table

    table = Table(title=f"dataset version {version.id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    schema = ", ".join(f"{c['name']}: {c['dtype']}" for c in version.schema)
    rows: list[tuple[str, Any]] = [
        ("name", version.name),
        ("task", version.task),
        ("content hash", version.content_hash),
        ("schema", schema),
        ("rows", f"{version.row_count:,}"),
        ("splits", ", ".join(f"{k} {v:,}" for k, v in version.split_counts.items())),
        ("label balance", ", ".join(f"{k} {v:,}" for k, v in version.label_balance.items())),
        ("source", f"{version.source_name} (sha256 {version.source_sha256})"),
        ("transform", f"{version.transform} {version.transform_params}"),
        ("parents", ", ".join(version.parent_ids) or "-"),
        ("size", f"{version.size_bytes:,} bytes"),
        ("created", f"{version.created_at:%Y-%m-%d %H:%M:%S} by {version.created_by}"),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table, soft_wrap=True)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet file.")],
    task: Annotated[str, typer.Option(help="sentiment or sarcasm")],
    name: Annotated[str, typer.Option(help="Dataset name (versions of it share the name).")],
    text_col: Annotated[str, typer.Option(help="Column holding the text.")],
    label_col: Annotated[str, typer.Option(help="Column holding the label.")],
    id_col: Annotated[str | None, typer.Option(help="Column of stable row ids.")] = None,
    split_col: Annotated[
        str | None, typer.Option(help="Column of official splits (train/validation/test).")
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv, jsonl or parquet (default: suffix).")
    ] = None,
    tenant: TenantOpt = None,
) -> None:
    """Validate a file and store it as an immutable, content-hashed version."""
    from sentimentops.training.datasets.flows import ingest_flow
    from sentimentops.training.datasets.readers import ColumnMapping

    if file_format not in (None, "csv", "jsonl", "parquet"):
        fail("--format must be csv, jsonl or parquet")
    settings = load_settings()
    with cli_sessions(settings)() as session:
        owner = _owner(session, tenant)
    from sentimentops.training.datasets.errors import DatasetValidationFailed

    try:
        result = ingest_flow(
            flow_context(settings),
            owner=owner,
            path=file,
            task=task,
            name=name,
            mapping=ColumnMapping(text=text_col, label=label_col, id=id_col, split=split_col),
            file_format=file_format,  # type: ignore[arg-type]
        )
    except DatasetValidationFailed as exc:
        print_report(exc.report)
        fail("dataset rejected; nothing was stored")
    except DomainError as exc:
        fail(str(exc))
    verb = "created" if result.created else "unchanged: identical content is already"
    console.print(f"{verb} version {result.version.id}")
    from sentimentops.training.datasets.models import DatasetVersion as Version

    with cli_sessions(settings)() as session:
        stored = session.get(Version, result.version.id)
    if stored is not None:
        _show(stored)


@app.command()
def process(
    version: Annotated[str, typer.Argument(help="Version id (or a unique prefix, or hash).")],
    tenant: TenantOpt = None,
) -> None:
    """Run the processing assets (validate, clean, detect language, scrub PII, de-duplicate,
    split) on a version; each changing step records a child version."""
    from sentimentops.training.datasets import assets

    settings = load_settings()
    with _session(settings) as session:
        result = assets.process(
            session,
            settings=settings,
            owner=_owner(session, tenant),
            version_id=version,
            on_step=lambda message: console.print(f"[dim]·[/] {message}"),
        )
    console.print(f"processed: final version {result.final.id}")
    _show(result.final)


@app.command("list")
def list_(
    tenant: TenantOpt = None,
    name: Annotated[str | None, typer.Option(help="Only versions of this dataset.")] = None,
    task: Annotated[str | None, typer.Option(help="Only this task.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Dataset versions, newest first."""
    from sentimentops.training.datasets import service

    settings = load_settings()
    with _session(settings) as session:
        owner = _owner(session, tenant)
        versions = service.list_versions(session, tenant_id=owner.tenant_id, name=name, task=task)
    if as_json:
        print_json([_out(v) for v in versions])
        return
    table = id_table(
        "id",
        "name",
        "task",
        "hash",
        "rows",
        "splits",
        "transform",
        "created",
        ids=[v.id for v in versions],
        title=f"dataset versions of {owner.tenant_label}",
    )
    table.columns[4].justify = "right"
    for v in versions:
        table.add_row(
            v.id,
            v.name,
            v.task,
            v.content_hash[:12],
            f"{v.row_count:,}",
            " ".join(f"{k}:{n}" for k, n in v.split_counts.items()),
            v.transform,
            f"{v.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command()
def show(
    version: Annotated[str, typer.Argument(help="Version id (or a unique prefix, or hash).")],
    tenant: TenantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Schema, counts, label balance, source and hash of a version."""
    from sentimentops.training.datasets import service

    settings = load_settings()
    with _session(settings) as session:
        found = service.get_version(
            session, tenant_id=_owner(session, tenant).tenant_id, ref=version
        )
    if as_json:
        print_json(_out(found))
    else:
        _show(found)


def _tree(node: LineageNode, tree: Tree | None = None) -> Tree:
    from rich.text import Text
    from rich.tree import Tree

    params = ", ".join(f"{k}={v}" for k, v in node.transform_params.items() if k != "counts")
    source = f" from {node.source_name}" if node.transform == "ingest" else ""
    label = (
        f"[bold]{node.id}[/] {node.name} [dim]{node.content_hash[:12]}[/] "
        f"{node.row_count:,} rows ← [cyan]{node.transform}[/]{source} [dim]{params}[/]"
    )
    text = Text.from_markup(label, overflow="fold")
    branch = Tree(text) if tree is None else tree.add(text)
    for parent in node.parents:
        _tree(parent, branch)
    return branch


@app.command()
def lineage(
    version: Annotated[str, typer.Argument(help="Version id (or a unique prefix, or hash).")],
    tenant: TenantOpt = None,
) -> None:
    """The version and its ancestors, each with the transform that produced it."""
    from sentimentops.training.datasets import service

    settings = load_settings()
    with _session(settings) as session:
        found = service.get_version(
            session, tenant_id=_owner(session, tenant).tenant_id, ref=version
        )
        tree = service.lineage(session, version=found)
    console.print(_tree(tree))


@app.command()
def curate(
    version: Annotated[str, typer.Argument(help="Version id (or a unique prefix, or hash).")],
    tenant: TenantOpt = None,
    name: AsOpt = "operator",
    roles: RoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
    annotators: Annotated[
        list[str] | None,
        typer.Option(
            "--annotator", help="Who labels a proposed relabeling project (default: --as)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The Data Curation agent on a version: validation, drift from the previous version (a data
    issue when it drifts), likely label errors, and a relabeling proposal in an agent thread."""
    from sentimentops.approvals.notifier import build_notifier
    from sentimentops.curation.flows import curate_dataset_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=name, roles=roles)
    report = run_flow(
        curate_dataset_flow(
            flow_context(settings),
            principal,
            version,
            notifier=build_notifier(settings),
            annotators=annotators or (),
        )
    )
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    console.print(f"[bold]{report.dataset_version_id}[/] {report.task}, {report.rows:,} rows")
    console.print("validation: " + ("passed" if report.validation_passed else "FAILED"))
    for line in report.validation_failures:
        console.print(f"  - {line}")
    if report.drift is None:
        console.print("drift: no previous version")
    else:
        kinds = ", ".join(report.drift.kinds) or "none"
        console.print(f"drift from {report.drift.previous_version_id}: {kinds}")
    if report.issue is not None:
        console.print(f"data issue opened: [bold]{report.issue.id}[/] {report.issue.summary}")
    if report.notice_error:
        err_console.print(f"the data issue's notice could not be sent: {report.notice_error}")
    console.print(f"suspected label errors: {len(report.suspects)}")
    for suspect in report.suspects[:10]:
        console.print(
            f"  {suspect.row_id}  {suspect.given_label} -> {suspect.suggested_label}"
            f"  {suspect.score:.3f}"
        )
    if report.suspects_note:
        console.print(f"  ({report.suspects_note})")
    console.print(f"queue items prioritised: {report.prioritised_items}")
    if report.thread_id:
        console.print(f"agent thread: {report.thread_id}")
    if report.draft_plan_hash:
        console.print(
            f"relabeling proposal waiting as a draft ({report.draft_plan_hash[:12]}): submit it "
            f"with `sentimentops chat --thread {report.thread_id}`; a data steward (approver) "
            "then approves the plan"
        )
