"""Knowledge base flows: search, upload, list, delete and status for one principal. The API
and the CLI call these; each checks its permission first, changes the database in one
transaction and the store after it (a document is indexed before the upload answers)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from sentimentops.core.audit import service as audit
from sentimentops.core.errors import InvalidInput
from sentimentops.core.flows import FlowContext
from sentimentops.core.knowledge import KbKind
from sentimentops.identity.principal import Principal
from sentimentops.identity.tenancy import get_owned, owned
from sentimentops.knowledge_base import permissions
from sentimentops.knowledge_base.models import KbDocument
from sentimentops.knowledge_base.schemas import (
    UPLOAD_MEDIA_TYPES,
    DocumentOut,
    KbStatus,
    SearchResults,
    UploadResult,
)
from sentimentops.knowledge_base.wiring import KnowledgeRuntime

# An upload is indexed before the request answers: 256 KiB is about 250 chunks, some twenty
# seconds of embedding on 2 cores. Larger documents: split them.
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_NAME_CHARS = 255


async def search_flow(
    kb: KnowledgeRuntime,
    principal: Principal,
    *,
    query: str,
    limit: int = 5,
    kinds: tuple[KbKind, ...] | None = None,
) -> SearchResults:
    """The best chunks for `query` among the platform's documents and the caller's tenant's."""
    permissions.can_search(principal)
    hits = await kb.search(tenant_id=principal.tenant_id, query=query, limit=limit, kinds=kinds)
    return SearchResults(query=query, hits=hits)


def media_type_of(content_type: str | None) -> str:
    """The upload's media type from its Content-Type (parameters such as charset ignored)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in UPLOAD_MEDIA_TYPES:
        allowed = " or ".join(UPLOAD_MEDIA_TYPES)
        raise InvalidInput(f"documents must be {allowed} (UTF-8), not {media_type or 'unnamed'}")
    return media_type


def _text_of(data: bytes) -> str:
    if not data.strip():
        raise InvalidInput("the document is empty")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(f"documents are limited to {MAX_DOCUMENT_BYTES:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the document is not UTF-8 text") from exc
    if "\x00" in text:
        raise InvalidInput("the document is not text (it holds NUL characters)")
    return text


def store_document(
    session: Session, principal: Principal, *, name: str, media_type: str, data: bytes
) -> tuple[KbDocument, bool]:
    """The tenant's document row for `data` (checked: a name, UTF-8 text within the size
    limit), made and audited when new; (row, created)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise InvalidInput(f"a document needs a name of 1 to {MAX_NAME_CHARS} printable characters")
    text = _text_of(data)
    sha = hashlib.sha256(data).hexdigest()
    existing = session.execute(
        owned(KbDocument, principal).where(KbDocument.sha256 == sha)
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    row = KbDocument(
        id=uuid.uuid4().hex,
        tenant_id=principal.tenant_id,
        name=name,
        media_type=media_type,
        sha256=sha,
        size_bytes=len(data),
        text=text,
        created_by=principal.actor,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    audit.record(
        session,
        actor=principal.actor,
        tenant=principal.tenant,
        action="kb.upload",
        resource=f"kb/documents/{row.id}",
        outcome="succeeded",
        details={"name": name, "media_type": media_type, "sha256": sha, "bytes": len(data)},
    )
    session.flush()
    return row, True


async def add_document_flow(
    ctx: FlowContext, principal: Principal, *, name: str, media_type: str, data: bytes
) -> tuple[KbDocument, bool]:
    """Store a Markdown or text document for the caller's tenant (not indexed yet); the same
    content again answers the stored row (created false)."""
    permissions.can_manage_documents(principal)
    return await ctx.write(
        lambda session: store_document(
            session, principal, name=name, media_type=media_type, data=data
        )
    )


async def upload_flow(
    ctx: FlowContext,
    kb: KnowledgeRuntime,
    principal: Principal,
    *,
    name: str,
    media_type: str,
    data: bytes,
) -> UploadResult:
    """add_document_flow, then the document indexed before it returns."""
    row, created = await add_document_flow(
        ctx, principal, name=name, media_type=media_type, data=data
    )
    # Indexed after the commit: a failure here leaves the row, which the next re-index (or
    # the same upload again) indexes; never chunks without a row.
    chunks = await asyncio.to_thread(kb.index_upload, row)
    return UploadResult(created=created, document=DocumentOut.model_validate(row), chunks=chunks)


async def list_documents_flow(ctx: FlowContext, principal: Principal) -> list[DocumentOut]:
    permissions.can_read_documents(principal)

    def work(session: Session) -> list[DocumentOut]:
        query = owned(KbDocument, principal).order_by(KbDocument.created_at.desc()).limit(1000)
        return [DocumentOut.model_validate(r) for r in session.execute(query).scalars()]

    return await ctx.read(work)


async def delete_document_flow(
    ctx: FlowContext, kb: KnowledgeRuntime, principal: Principal, document_id: str
) -> None:
    """Delete one of the caller's tenant's documents and its chunks (another tenant's id is
    NotFound, like a missing one)."""
    permissions.can_manage_documents(principal)
    await ctx.read(lambda session: get_owned(session, KbDocument, document_id, principal))
    # Chunks first: a document that is gone must not stay searchable; if the row's delete
    # then fails, the next re-index brings the chunks back with it.
    await asyncio.to_thread(
        kb.remove_upload, tenant_id=principal.tenant_id, document_id=document_id
    )

    def work(session: Session) -> None:
        row = get_owned(session, KbDocument, document_id, principal)
        session.delete(row)
        audit.record(
            session,
            actor=principal.actor,
            tenant=principal.tenant,
            action="kb.delete",
            resource=f"kb/documents/{document_id}",
            outcome="succeeded",
            details={"name": row.name, "sha256": row.sha256},
        )

    await ctx.write(work)


async def status_flow(kb: KnowledgeRuntime, principal: Principal) -> KbStatus:
    permissions.can_search(principal)
    return await asyncio.to_thread(kb.status, principal.tenant_id)
