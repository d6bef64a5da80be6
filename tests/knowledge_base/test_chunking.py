"""Chunks keep their headings; long sections are cut between paragraphs with overlap."""

from __future__ import annotations

import itertools

from sentimentops.knowledge_base.chunking import (
    OVERLAP_CHARS,
    TARGET_CHARS,
    SourceDocument,
    chunk_document,
    sections,
)

FILLER = "Background on why these runbooks exist and who keeps them current. " * 16
RUNBOOK = f"""# Runbooks
{FILLER}

## Rollback
### Sentiment
Run `sentimentops rollback --task sentiment`.

```bash
# not a heading: a shell comment
sentimentops workflows show ID
```

### Sarcasm
Use --task sarcasm.
## Audit
Verify the chain.
"""


def test_each_chunk_keeps_its_heading_path() -> None:
    doc = SourceDocument(source="docs/runbooks.md", kind="doc", title="Runbooks", text=RUNBOOK)
    chunks = chunk_document(doc)
    paths = [c.heading_path for c in chunks]
    assert paths == [
        ("docs/runbooks.md", "Runbooks"),
        ("docs/runbooks.md", "Runbooks", "Rollback", "Sentiment"),
        ("docs/runbooks.md", "Runbooks", "Rollback", "Sarcasm"),
        ("docs/runbooks.md", "Runbooks", "Audit"),
    ]
    sentiment = chunks[1]
    assert "# not a heading: a shell comment" in sentiment.text
    assert sentiment.heading == "docs/runbooks.md › Runbooks › Rollback › Sentiment"
    assert sentiment.embedded.startswith(sentiment.heading + "\n")
    assert [c.index for c in chunks] == [0, 1, 2, 3]
    assert len({c.content_sha256 for c in chunks}) == 4


def test_a_heading_rename_changes_the_hash_and_nothing_else_does() -> None:
    doc = SourceDocument(source="a.md", kind="doc", title="A", text=RUNBOOK)
    renamed = SourceDocument(
        source="a.md", kind="doc", title="A", text=RUNBOOK.replace("### Sarcasm", "### Irony")
    )
    before, after = chunk_document(doc), chunk_document(renamed)
    changed = [
        i
        for i, (b, a) in enumerate(zip(before, after, strict=True))
        if b.content_sha256 != a.content_sha256
    ]
    assert changed == [2]


def test_long_sections_are_cut_between_paragraphs_with_overlap() -> None:
    paragraphs = [f"Paragraph {i} " + " ".join(f"w{i}x{j}" for j in range(40)) for i in range(12)]
    doc = SourceDocument(
        source="upload:1",
        kind="upload",
        title="notes.md",
        text="# Notes\n\n" + "\n\n".join(paragraphs),
    )
    chunks = chunk_document(doc)
    assert len(chunks) > 3
    for chunk in chunks:
        assert len(chunk.text) <= TARGET_CHARS + OVERLAP_CHARS
        assert chunk.heading_path == ("notes.md", "Notes")
    for before, after in itertools.pairwise(chunks):
        assert before.text[-50:] in after.text  # the overlap
    text = " ".join(c.text for c in chunks)
    assert all(p.split()[2] in text for p in paragraphs)


def test_plain_text_is_one_section_under_its_title() -> None:
    doc = SourceDocument(
        source="upload:2",
        kind="upload",
        title="notes.txt",
        text="# not markdown\nplain",
        markdown=False,
    )
    [chunk] = chunk_document(doc)
    assert chunk.heading_path == ("notes.txt",)
    assert chunk.text == "# not markdown\nplain"


def test_sections_without_a_body_are_left_out() -> None:
    assert sections("# A\n## B\ntext\n") == [(("A", "B"), "text")]
    assert sections("") == []


def test_a_short_document_stays_one_chunk_under_its_title() -> None:
    text = "# Plan p-1 (completed)\nProposed by alice.\n## Rationale\nRetrain.\n## Outcome\nok"
    doc = SourceDocument(source="plan:p-1", kind="plan", title="plan p-1", text=text)
    [chunk] = chunk_document(doc)
    assert chunk.heading_path == ("plan p-1", "Plan p-1 (completed)")
    assert chunk.text == "Proposed by alice.\n## Rationale\nRetrain.\n## Outcome\nok"
    assert chunk_document(SourceDocument(source="x", kind="upload", title="x", text=" \n")) == []
