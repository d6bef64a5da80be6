"""Documents into chunks that keep their headings.

A Markdown document is cut at its headings; each chunk carries its heading path (the document,
then every heading above it) with its text, so "Rollback" under "Runbooks" is found by either
word and quoted with both. A section longer than TARGET_CHARS is cut between paragraphs (lines,
then words, when a paragraph alone is longer), each piece repeating the end of the previous one
(OVERLAP_CHARS) so that a sentence cut in two is whole in one of them. A document no longer
than TARGET_CHARS stays one chunk (a plan, an incident, a short note: its sections alone would
lose what they belong to). Plain text is one section under its title. Lines inside ``` fences
are never headings.

Plain code rather than LlamaIndex's MarkdownNodeParser: importing llama_index.core from a
checkout's root resolves its `workflows` dependency to our workflows/ folder, and it adds
seconds to the API's start for what these sixty lines do."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from sentimentops.core.knowledge import KbKind

TARGET_CHARS = 1200
OVERLAP_CHARS = 200
SEPARATOR = " › "

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class SourceDocument:
    """A document to index, as one source: re-indexing it replaces all its chunks."""

    source: str  # stable key: a repo path ("docs/runbooks.md") or "kind:id"
    kind: KbKind
    title: str
    text: str
    tenant_id: str | None = None  # None: a platform document
    version: str | None = None
    url: str | None = None
    markdown: bool = True


@dataclass(frozen=True)
class Chunk:
    source: str
    kind: KbKind
    tenant_id: str | None
    title: str
    heading_path: tuple[str, ...]
    text: str
    index: int
    version: str | None = None
    url: str | None = None
    content_sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "content_sha256", hashlib.sha256(self.embedded.encode()).hexdigest()
        )

    @property
    def heading(self) -> str:
        return SEPARATOR.join(self.heading_path)

    @property
    def embedded(self) -> str:
        """What the encoder reads: the heading path, then the text."""
        return f"{self.heading}\n{self.text}"


def sections(text: str) -> list[tuple[tuple[str, ...], str]]:
    """(headings above, body) for each heading's own text, in order; the text before the first
    heading has no headings. Sections without a body are left out (their heading lives on in
    their subsections' paths)."""
    found: list[tuple[tuple[str, ...], str]] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    fenced = False

    def close() -> None:
        content = "\n".join(body).strip()
        if content:
            found.append((tuple(title for _level, title in stack), content))
        body.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading is None:
            body.append(line)
            continue
        close()
        level = len(heading.group(1))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading.group(2).strip()))
    close()
    return found


def _split_long(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at line ends, else at spaces."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            pieces.append(line[:cut])
            line = line[cut:].lstrip()
        if current and len(current) + 1 + len(line) > limit:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        pieces.append(current)
    return pieces


def _tail(text: str, size: int) -> str:
    """The last `size` characters or so, starting at a word."""
    if len(text) <= size:
        return text
    start = text.find(" ", len(text) - size)
    return text[start + 1 :] if start != -1 else text[-size:]


def split_section(
    text: str, *, target: int = TARGET_CHARS, overlap: int = OVERLAP_CHARS
) -> list[str]:
    """`text` in pieces of about `target` characters cut between paragraphs, each after the
    first starting with the last `overlap` characters of the one before."""
    if len(text) <= target:
        return [text]
    paragraphs: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraphs.extend(_split_long(paragraph.strip(), target - overlap))
    pieces: list[str] = []
    current = ""
    for paragraph in paragraphs:
        if current and len(current) + 2 + len(paragraph) > target:
            pieces.append(current)
            current = f"{_tail(current, overlap)}\n\n{paragraph}"
        else:
            current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        pieces.append(current)
    return pieces


def _whole(text: str) -> tuple[tuple[str, ...], str]:
    """A short document as one section: under its opening heading, if it opens with one."""
    stripped = text.strip()
    first, _, rest = stripped.partition("\n")
    heading = _HEADING.match(first)
    if heading is None or not rest.strip():
        return (), stripped
    return (heading.group(2).strip(),), rest.strip()


def chunk_document(document: SourceDocument) -> list[Chunk]:
    """The document's chunks, numbered from 0 in reading order."""
    if not document.text.strip():
        parts = []
    elif document.markdown and len(document.text.strip()) <= TARGET_CHARS:
        # A short document stays whole (a plan, an incident, a card): its sections alone
        # would lose what they belong to.
        parts = [_whole(document.text)]
    elif document.markdown:
        parts = sections(document.text)
    else:
        parts = [((), document.text.strip())]
    chunks: list[Chunk] = []
    for headings, body in parts:
        # Platform docs are named by their path (what a reader opens); the rest by their title.
        path = (document.source if document.kind == "doc" else document.title, *headings)
        for piece in split_section(body):
            chunks.append(
                Chunk(
                    source=document.source,
                    kind=document.kind,
                    tenant_id=document.tenant_id,
                    title=document.title,
                    heading_path=path,
                    text=piece,
                    index=len(chunks),
                    version=document.version,
                    url=document.url,
                )
            )
    return chunks
