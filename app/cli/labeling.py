"""`sentimentops labeling …`: labeling projects, the annotator's queue, agreement and export.

Each command runs the same flow as the API (labeling/flows.py) as the operator named by
`--as`, holding the `--role`s, in the tenant `--tenant` names (or the only one): a project's
annotators are the names people annotate under (`--as alice`), as they are account ids through
the API. Ids may be shortened to any unique prefix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from sentimentops.app.cli.common import (
    AsOpt,
    JsonOpt,
    TenantOpt,
    cli_sessions,
    console,
    domain_errors,
    fail,
    flow_context,
    id_table,
    load_settings,
    operator_principal,
    print_json,
    run_flow,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from sentimentops.core.settings import Settings
    from sentimentops.identity.principal import Principal
    from sentimentops.labeling.schemas import ProjectDetail, QueueAnswer

app = typer.Typer(
    help="Labeling: projects, next, annotate, skip, undo, items, resolve, agreement, export.",
    no_args_is_help=True,
)
projects_app = typer.Typer(
    help="Labeling projects: create, update, list, show.", no_args_is_help=True
)
app.add_typer(projects_app, name="projects")

ModelT = TypeVar("ModelT", bound="BaseModel")

CuratorRoleOpt = Annotated[
    list[str], typer.Option("--role", help="Your roles (analyst, ml_engineer, tenant_admin).")
]
AnnotatorRoleOpt = Annotated[
    list[str], typer.Option("--role", help="Your roles (annotator, analyst, ml_engineer).")
]
ReaderRoleOpt = Annotated[list[str], typer.Option("--role", help="Your roles in the tenant.")]
ReviewerRoleOpt = Annotated[list[str], typer.Option("--role", help="Your roles (approver).")]
ProjectArg = Annotated[str, typer.Argument(help="Project id (or a unique prefix).")]
ItemArg = Annotated[str, typer.Argument(help="Item id (or a unique prefix).")]


def _model(model: type[ModelT], **fields: Any) -> ModelT:
    """A request body from flags; a refused value is an error message naming the field."""
    from pydantic import ValidationError

    try:
        return model(**fields)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))


def _full_id(settings: Settings, principal: Principal, ref: str, *, item: bool = False) -> str:
    """The id `ref` starts, among the tenant's projects (or items)."""
    from sentimentops.identity.tenancy import owned_id_by_prefix
    from sentimentops.labeling.models import LabelingItem, LabelingProject

    model = LabelingItem if item else LabelingProject
    what = "labeling item" if item else "labeling project"
    with domain_errors(), cli_sessions(settings)() as session:
        return owned_id_by_prefix(session, model, ref, principal, what=what)
    raise AssertionError("unreachable")  # for mypy: domain_errors() may swallow


def _print_project(detail: ProjectDetail) -> None:
    from rich.markup import escape

    project, progress = detail.project, detail.progress
    source = project.source_kind + (
        f" {project.source_dataset_id}" if project.source_dataset_id else ""
    )
    console.print(f"[bold]{escape(project.name)}[/]  {project.id}")
    console.print(
        f"task {project.task} · labels {', '.join(project.labels)} · order {project.order} · "
        f"overlap {project.overlap} · source {source} · {project.item_count} items"
    )
    console.print(f"annotators: {escape(', '.join(project.annotators))}")
    console.print(
        f"open {progress.open} · conflict {progress.conflict} · resolved {progress.resolved} · "
        f"annotations {progress.annotations} · skips {progress.skips} · locked {progress.locked}"
    )
    if project.exports:
        console.print(f"exports: {', '.join(project.exports)}")


def _print_answer(answer: QueueAnswer) -> None:
    from rich.markup import escape

    if answer.item is None:
        console.print(answer.message)
        return
    console.print(f"[bold]item {answer.item.id}[/]  [dim]({escape(answer.item.why)})[/]")
    console.print(escape(answer.item.text), soft_wrap=True, highlight=False)
    console.print(f"[dim]locked to you until {answer.item.locked_until:%H:%M:%S} UTC[/]")


@projects_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="The project's name.")],
    task: Annotated[str, typer.Option(help="sentiment or sarcasm.")],
    annotator: Annotated[
        list[str], typer.Option(help="Who may annotate (their --as name or account id); repeat.")
    ],
    source: Annotated[str, typer.Option(help="dataset, feedback or predictions.")] = "dataset",
    dataset: Annotated[
        str | None, typer.Option(help="The dataset version (source dataset).")
    ] = None,
    window_hours: Annotated[
        int | None, typer.Option(help="Only feedback/predictions of the last hours.")
    ] = None,
    overlap: Annotated[int, typer.Option(help="Annotators per item.")] = 1,
    items_per_annotator: Annotated[int | None, typer.Option(help="Most items per person.")] = None,
    order: Annotated[
        str, typer.Option(help="uncertainty, disagreement, drift, suspected_error or source.")
    ] = "uncertainty",
    max_items: Annotated[int | None, typer.Option(help="Most items taken from the source.")] = None,
    guidelines: Annotated[
        Path | None, typer.Option(help="A text file with the labeling guidelines.")
    ] = None,
    gold: Annotated[
        Path | None,
        typer.Option(help='Gold items: a JSON Lines file of {"text": …, "label": …}.'),
    ] = None,
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: CuratorRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """Create a project; its items are taken from the source now."""
    from sentimentops.labeling.flows import create_project_flow
    from sentimentops.labeling.schemas import (
        MAX_GUIDELINES_CHARS,
        GoldItem,
        ProjectCreate,
        ProjectSource,
    )

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    text = ""
    if guidelines is not None:
        text = guidelines.read_text(encoding="utf-8")[: MAX_GUIDELINES_CHARS + 1]
    gold_items = []
    if gold is not None:
        lines = gold.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    gold_items.append(_model(GoldItem, **json.loads(line)))
                except (json.JSONDecodeError, TypeError) as exc:
                    fail(f"{gold}:{number}: not a JSON object ({exc})")
    body = _model(
        ProjectCreate,
        name=name,
        task=task,
        guidelines=text,
        annotators=annotator,
        items_per_annotator=items_per_annotator,
        overlap=overlap,
        order=order,
        source=_model(ProjectSource, kind=source, dataset_id=dataset, window_hours=window_hours),
        max_items=max_items,
        gold=gold_items,
    )
    detail = run_flow(create_project_flow(flow_context(settings), principal, body))
    if as_json:
        print_json(detail)
    else:
        _print_project(detail)


@projects_app.command("update")
def update(
    project: ProjectArg,
    order: Annotated[
        str | None,
        typer.Option(help="uncertainty, disagreement, drift, suspected_error or source."),
    ] = None,
    annotator: Annotated[
        list[str] | None, typer.Option(help="The new list of annotators; repeat.")
    ] = None,
    items_per_annotator: Annotated[int | None, typer.Option(help="Most items per person.")] = None,
    drift_window_hours: Annotated[int | None, typer.Option(help="The drift window.")] = None,
    guidelines: Annotated[Path | None, typer.Option(help="A file with new guidelines.")] = None,
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: CuratorRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """Switch a project's order or change its annotators, cap, drift window or guidelines."""
    from sentimentops.labeling.flows import update_project_flow
    from sentimentops.labeling.schemas import MAX_GUIDELINES_CHARS, ProjectUpdate

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    project_id = _full_id(settings, principal, project)
    text = None
    if guidelines is not None:
        text = guidelines.read_text(encoding="utf-8")[: MAX_GUIDELINES_CHARS + 1]
    given = {
        "order": order,
        "annotators": annotator or None,
        "items_per_annotator": items_per_annotator,
        "drift_window_hours": drift_window_hours,
        "guidelines": text,
    }
    body = _model(ProjectUpdate, **{k: v for k, v in given.items() if v is not None})
    detail = run_flow(update_project_flow(flow_context(settings), principal, project_id, body))
    if as_json:
        print_json(detail)
    else:
        _print_project(detail)


@projects_app.command("list")
def list_projects(
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: ReaderRoleOpt = ["viewer"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """The tenant's projects, newest first."""
    from sentimentops.labeling.flows import list_projects_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    found = run_flow(list_projects_flow(flow_context(settings), principal))
    if as_json:
        print_json(found)
        return
    table = id_table("id", "name", "task", "source", "items", "order", ids=[p.id for p in found])
    for p in found:
        table.add_row(p.id, p.name, p.task, p.source_kind, str(p.item_count), p.order)
    console.print(table)


@projects_app.command("show")
def show(
    project: ProjectArg,
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: ReaderRoleOpt = ["viewer"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """A project's settings and progress."""
    from sentimentops.labeling.flows import get_project_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    project_id = _full_id(settings, principal, project)
    detail = run_flow(get_project_flow(flow_context(settings), principal, project_id))
    if as_json:
        print_json(detail)
    else:
        _print_project(detail)


@app.command("next")
def next_item(
    project: ProjectArg,
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: AnnotatorRoleOpt = ["annotator"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """Your next item, locked to you for SENTIMENTOPS_LABELING_LOCK_MINUTES."""
    from sentimentops.labeling.flows import next_item_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    project_id = _full_id(settings, principal, project)
    answer = run_flow(next_item_flow(flow_context(settings), principal, project_id))
    if as_json:
        print_json(answer)
    else:
        _print_answer(answer)


@app.command()
def annotate(
    project: ProjectArg,
    item: ItemArg,
    label: Annotated[str, typer.Argument(help="The label (one of the project's).")],
    note: Annotated[str | None, typer.Option(help="A note for reviewers.")] = None,
    time_ms: Annotated[int | None, typer.Option(help="Time spent, in milliseconds.")] = None,
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: AnnotatorRoleOpt = ["annotator"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """Answer an item locked to you."""
    from sentimentops.labeling.flows import annotate_flow
    from sentimentops.labeling.schemas import AnnotationIn

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    project_id = _full_id(settings, principal, project)
    item_id = _full_id(settings, principal, item, item=True)
    body = _model(AnnotationIn, label=label, note=note, time_spent_ms=time_ms)
    result = run_flow(annotate_flow(flow_context(settings), principal, project_id, item_id, body))
    if as_json:
        print_json(result)
    else:
        console.print(f"{item_id}: {label} (item {result.item_status})")


@app.command()
def skip(
    project: ProjectArg,
    item: ItemArg,
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: AnnotatorRoleOpt = ["annotator"],  # noqa: B006 - typer reads the default list
) -> None:
    """Give back an item locked to you; it is not served to you again."""
    from sentimentops.labeling.flows import skip_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    project_id = _full_id(settings, principal, project)
    item_id = _full_id(settings, principal, item, item=True)
    run_flow(skip_flow(flow_context(settings), principal, project_id, item_id))
    console.print(f"{item_id}: skipped")


@app.command()
def undo(
    project: ProjectArg,
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: AnnotatorRoleOpt = ["annotator"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """Take back your last annotation; its item is locked to you again."""
    from sentimentops.labeling.flows import undo_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    project_id = _full_id(settings, principal, project)
    answer = run_flow(undo_flow(flow_context(settings), principal, project_id))
    if as_json:
        print_json(answer)
    else:
        _print_answer(answer)


@app.command()
def items(
    project: ProjectArg,
    status: Annotated[str | None, typer.Option(help="open, conflict or resolved.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: ReviewerRoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """A project's items with every annotation (reviewers and curators)."""
    from rich.markup import escape

    from sentimentops.labeling.flows import list_items_flow
    from sentimentops.labeling.schemas import ITEM_STATUSES

    chosen = next((known for known in ITEM_STATUSES if known == status), None)
    if status is not None and chosen is None:
        fail(f"--status must be one of {', '.join(ITEM_STATUSES)}")
    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    project_id = _full_id(settings, principal, project)
    page = run_flow(
        list_items_flow(
            flow_context(settings),
            principal,
            project_id,
            status=chosen,
            limit=limit,
            offset=0,
        )
    )
    if as_json:
        print_json(page)
        return
    table = id_table("id", "status", "answers", "text", ids=[i.id for i in page.items])
    for item in page.items:
        answers = ", ".join(f"{a.annotator}: {a.label}" for a in item.annotations if a.label)
        table.add_row(item.id, item.status, escape(answers), escape(item.text[:80]))
    console.print(table)
    console.print(f"{len(page.items)} of {page.total} items")


@app.command()
def resolve(
    project: ProjectArg,
    item: ItemArg,
    label: Annotated[str, typer.Argument(help="The label that stands.")],
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: ReviewerRoleOpt = ["approver"],  # noqa: B006 - typer reads the default list
) -> None:
    """Decide an item its annotators disagreed on (reviewers: approver role)."""
    from sentimentops.labeling.flows import resolve_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    project_id = _full_id(settings, principal, project)
    item_id = _full_id(settings, principal, item, item=True)
    run_flow(resolve_flow(flow_context(settings), principal, project_id, item_id, label))
    console.print(f"{item_id}: resolved as {label}")


@app.command()
def agreement(
    project: ProjectArg,
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: ReaderRoleOpt = ["viewer"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """Cohen's κ, Krippendorff's α and each annotator's agreement and gold accuracy."""
    from sentimentops.labeling.flows import agreement_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    project_id = _full_id(settings, principal, project)
    report = run_flow(agreement_flow(flow_context(settings), principal, project_id))
    if as_json:
        print_json(report)
        return

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    console.print(
        f"{report.annotators} annotators · {report.items_with_overlap} items with overlap · "
        f"Cohen's κ {number(report.cohen_kappa)} · "
        f"Krippendorff's α {number(report.krippendorff_alpha)}"
    )
    names = [a.annotator for a in report.per_annotator]
    table = id_table("annotator", "items", "shared", "agree", "κ vs others", "gold", ids=names)
    for a in report.per_annotator:
        gold = f"{number(a.gold_accuracy)} of {a.gold_answered}" if a.gold_answered else "-"
        table.add_row(
            a.annotator,
            str(a.annotated),
            str(a.shared_items),
            number(a.agreement_rate),
            number(a.kappa_vs_others),
            gold,
        )
    console.print(table)


@app.command()
def export(
    project: ProjectArg,
    name: Annotated[
        str | None, typer.Option(help="The dataset's name (default labeling-<project id>).")
    ] = None,
    tenant: TenantOpt = None,
    as_name: AsOpt = "operator",
    roles: CuratorRoleOpt = ["ml_engineer"],  # noqa: B006 - typer reads the default list
    as_json: JsonOpt = False,
) -> None:
    """Export the resolved labels as a dataset version (lineage names the project)."""
    from sentimentops.labeling.flows import export_flow

    settings = load_settings()
    principal = operator_principal(settings, tenant=tenant, name=as_name, roles=roles)
    project_id = _full_id(settings, principal, project)
    result = run_flow(export_flow(flow_context(settings), principal, project_id, name=name))
    if as_json:
        print_json(result)
        return
    verb = "created" if result.created else "already stored as"
    console.print(
        f"{verb} dataset version {result.version.id} ({result.version.name}, {result.rows} rows, "
        f"{result.relabeled} relabeled; transform {result.version.transform})"
    )
