"""Dataset versions on real databases (SQLite and PostgreSQL) and a real snapshot store:
ingestion, refusals that leave nothing behind, content hashing, tenancy and the Dagster
processing pipeline with its lineage."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sentimentops.core.errors import Conflict, InvalidInput, NotFound
from sentimentops.core.settings import Settings
from sentimentops.identity import service as identity
from sentimentops.training.datasets import assets, service, transforms
from sentimentops.training.datasets.errors import DatasetValidationFailed
from sentimentops.training.datasets.models import DatasetVersion
from sentimentops.training.datasets.readers import ColumnMapping
from sentimentops.training.reference_data import (
    IMDB_VALIDATION_FRACTION,
    SPLIT_SALT,
)
from sentimentops.training.text import hash_split

HEADLINES = ColumnMapping(text="headline", label="is_sarcastic")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)


@pytest.fixture
def owner(session: Session) -> service.Owner:
    tenant = identity.create_tenant(session, actor="test", slug="acme")
    return service.Owner(tenant.id, tenant.slug, "test:alice")


def _headlines(n: int = 60) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "headline": [f"local man finds {i} reasons to stay home" for i in range(n)],
            "is_sarcastic": [i % 2 for i in range(n)],
        }
    )


def _csv(tmp_path: Path, frame: pd.DataFrame, name: str = "heads.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(DatasetVersion)).scalar_one())


def _snapshots(settings: Settings) -> list[str]:
    folder = service.store_dir(settings)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_ingest_snapshots_by_content_and_is_idempotent(
    session: Session, settings: Settings, owner: service.Owner, tmp_path: Path
) -> None:
    path = _csv(tmp_path, _headlines())
    first = service.ingest(
        session,
        settings=settings,
        owner=owner,
        path=path,
        task="sarcasm",
        name="heads",
        mapping=HEADLINES,
    )
    version = first.version
    assert first.created
    assert version.row_count == 60
    assert version.split_counts == {"all": 60}
    assert version.label_balance == {"not_sarcastic": 30, "sarcastic": 30}
    assert [c["name"] for c in version.schema] == ["id", "text", "label"]
    assert version.source_name == "heads.csv"
    assert len(version.source_sha256 or "") == 64
    assert version.parent_ids == []
    assert version.transform == "ingest"
    assert version.transform_params["columns"] == {"text": "headline", "label": "is_sarcastic"}
    assert _snapshots(settings) == [f"{version.content_hash}.parquet"]
    frame = service.load_frame(settings, version)
    assert frame["text"].tolist()[:1] == ["local man finds 0 reasons to stay home"]

    again = service.ingest(
        session,
        settings=settings,
        owner=owner,
        path=path,
        task="sarcasm",
        name="heads",
        mapping=HEADLINES,
    )
    assert not again.created
    assert again.version.id == version.id
    # The same rows in another format and with other label spellings are the same content.
    jsonl = tmp_path / "heads.jsonl"
    rows = _headlines().assign(is_sarcastic=lambda f: f["is_sarcastic"].map({0: "no", 1: "yes"}))
    rows.to_json(jsonl, orient="records", lines=True)
    same = service.ingest(
        session,
        settings=settings,
        owner=owner,
        path=jsonl,
        task="sarcasm",
        name="heads",
        mapping=HEADLINES,
    )
    assert same.version.id == version.id
    assert _count(session) == 1


def test_parquet_with_ids_and_official_splits(
    session: Session, settings: Settings, owner: service.Owner, tmp_path: Path
) -> None:
    path = tmp_path / "reviews.parquet"
    pd.DataFrame(
        {
            "review_id": [f"r{i}" for i in range(40)],
            "review": [
                f"a film that was {'great' if i % 2 else 'awful'} number {i}" for i in range(40)
            ],
            "sentiment": ["positive" if i % 2 else "negative" for i in range(40)],
            "part": ["test" if i < 10 else "train" for i in range(40)],
        }
    ).to_parquet(path)
    mapping = ColumnMapping(text="review", label="sentiment", id="review_id", split="part")
    version = service.ingest(
        session,
        settings=settings,
        owner=owner,
        path=path,
        task="sentiment",
        name="reviews",
        mapping=mapping,
    ).version
    assert version.split_counts == {"test": 10, "train": 30}
    assert version.label_balance == {"negative": 20, "positive": 20}
    assert service.load_frame(settings, version)["id"].tolist()[:2] == ["r0", "r1"]


@pytest.mark.parametrize(
    ("content", "mapping", "message"),
    [
        (b"title,y\nhello,1\n", HEADLINES, "not found; the file has: 'title', 'y'"),
        (
            b"headline,is_sarcastic\nhi,1\nyo,maybe\nho,kinda\n",
            HEADLINES,
            "unknown sarcasm labels: 'maybe' (1), 'kinda' (1)",
        ),
        (
            b"headline,is_sarcastic\nfine,1\nbad \xff byte,0\n",
            HEADLINES,
            "not valid UTF-8: byte 0xff at offset 33 (line 3, column 5)",
        ),
        # An unterminated quote is a parse error at its line, not an unknown label further on.
        (
            b'headline,is_sarcastic\nfine,1\n"never closed,0\nnext,1\nlast,0\n',
            HEADLINES,
            "not valid CSV: a quote opened on line 3 is not closed where the field ends (the "
            "file ends inside it)",
        ),
        (
            b'headline,is_sarcastic\nfine,1\n"never closed,0\nnext,1\n"quoted" again,0\n',
            HEADLINES,
            "a quote opened on line 3 is not closed where the field ends (text follows its "
            "closing quote on line 5)",
        ),
        (b"headline,is_sarcastic\n", HEADLINES, "the file has no rows"),
        (b"", HEADLINES, "is empty"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message_and_leave_nothing(
    session: Session,
    settings: Settings,
    owner: service.Owner,
    tmp_path: Path,
    content: bytes,
    mapping: ColumnMapping,
    message: str,
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as caught:
        service.ingest(
            session,
            settings=settings,
            owner=owner,
            path=path,
            task="sarcasm",
            name="bad",
            mapping=mapping,
        )
    assert message in str(caught.value)
    assert _count(session) == 0
    assert _snapshots(settings) == []


def test_a_two_gigabyte_file_is_refused_before_reading(
    session: Session, settings: Settings, owner: service.Owner, tmp_path: Path
) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:  # sparse: no 2 GB written to disk
        f.truncate(2 * 1024**3)
    with pytest.raises(InvalidInput, match=r"2,147,483,648 bytes, over the limit of 536,870,912"):
        service.ingest(
            session,
            settings=settings,
            owner=owner,
            path=path,
            task="sarcasm",
            name="huge",
            mapping=HEADLINES,
        )
    assert _count(session) == 0


def test_failing_expectations_are_reported_with_example_rows(
    session: Session, settings: Settings, owner: service.Owner, tmp_path: Path
) -> None:
    frame = _headlines(40)
    frame.loc[3, "headline"] = ""
    frame.loc[5, "headline"] = "   "
    frame.loc[7, "is_sarcastic"] = None
    frame.loc[10:19, "headline"] = "the same headline again"
    path = _csv(tmp_path, frame)
    with pytest.raises(DatasetValidationFailed) as caught:
        service.ingest(
            session,
            settings=settings,
            owner=owner,
            path=path,
            task="sarcasm",
            name="bad",
            mapping=HEADLINES,
        )
    report = caught.value.report
    failed = {(f.rule, f.column): f for f in report.failures}
    assert set(failed) == {
        ("no missing values", "text"),
        ("no missing values", "label"),
        ("non-empty text", "text"),
        ("duplicate ratio at most 0.05", "text"),
    }
    assert [e.row for e in failed[("no missing values", "text")].examples] == [3]
    assert [e.row for e in failed[("non-empty text", "text")].examples] == [5]
    assert failed[("duplicate ratio at most 0.05", "text")].unexpected_count == 9
    assert "'the same headline again' ×10" in str(caught.value)
    assert "no missing values (expect_column_values_to_not_be_null) on 'label': 1 rows" in str(
        caught.value
    )
    assert _count(session) == 0
    assert _snapshots(settings) == []


def test_a_failed_database_write_removes_the_new_snapshot(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    # No such tenant: the row violates its foreign key after the file was written.
    ghost = service.Owner("0" * 32, "ghost", "test")
    path = _csv(tmp_path, _headlines())
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        service.ingest(
            session,
            settings=settings,
            owner=ghost,
            path=path,
            task="sarcasm",
            name="heads",
            mapping=HEADLINES,
        )
    assert _snapshots(settings) == []


def test_content_hash_is_canonical_and_a_changed_snapshot_is_refused(
    session: Session, settings: Settings, owner: service.Owner, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"id": ["1", "2"], "text": ["a", "b\x1fc"], "label": [0, 1]})
    digest = service.content_hash(frame, task="sarcasm")
    assert digest == service.content_hash(frame.astype({"label": "int32"}), task="sarcasm")
    assert digest != service.content_hash(frame, task="sentiment")
    assert digest != service.content_hash(frame.iloc[::-1], task="sarcasm")
    # A separator inside a text cannot forge another row layout.
    forged = pd.DataFrame({"id": ["1", "2"], "text": ["a", "b"], "label": [0, 1]})
    assert digest != service.content_hash(forged, task="sarcasm")
    with pytest.raises(InvalidInput):
        service.snapshot_path(settings, "../../etc/passwd")

    version = service.ingest(
        session,
        settings=settings,
        owner=owner,
        path=_csv(tmp_path, _headlines()),
        task="sarcasm",
        name="heads",
        mapping=HEADLINES,
    ).version
    snapshot = service.snapshot_path(settings, version.content_hash)
    changed = pd.read_parquet(snapshot)
    changed.loc[0, "text"] = "edited"
    changed.to_parquet(snapshot, index=False)
    with pytest.raises(Conflict, match="does not match its content hash"):
        service.load_frame(settings, version)


def test_another_tenants_version_is_not_found(
    session: Session, settings: Settings, owner: service.Owner, tmp_path: Path
) -> None:
    version = service.ingest(
        session,
        settings=settings,
        owner=owner,
        path=_csv(tmp_path, _headlines()),
        task="sarcasm",
        name="heads",
        mapping=HEADLINES,
    ).version
    other = identity.create_tenant(session, actor="test", slug="other")
    with pytest.raises(NotFound):
        service.get_version(session, tenant_id=other.id, ref=version.id)
    assert service.list_versions(session, tenant_id=other.id) == []
    # The same content is a separate version per tenant (sharing the file).
    theirs = service.ingest(
        session,
        settings=settings,
        path=_csv(tmp_path, _headlines()),
        owner=service.Owner(other.id, other.slug, "test:bob"),
        task="sarcasm",
        name="heads",
        mapping=HEADLINES,
    )
    assert theirs.created
    assert theirs.version.id != version.id
    assert (
        service.get_version(session, tenant_id=owner.tenant_id, ref=version.content_hash[:12]).id
        == version.id
    )


def test_processing_records_each_changing_step_in_the_lineage(
    session: Session, settings: Settings, owner: service.Owner, tmp_path: Path
) -> None:
    frame = _headlines(80)
    frame.loc[0, "headline"] = "Mail me at jane.doe@example.com<br />now"
    frame.loc[1, "headline"] = "Bonjour à tous, c'est une très belle journée pour une promenade"
    frame.loc[4, "headline"] = "LOCAL MAN finds 2 reasons to stay home!"  # near duplicate of 2
    path = _csv(tmp_path, frame)
    ingested = service.ingest(
        session,
        settings=settings,
        owner=owner,
        path=path,
        task="sarcasm",
        name="heads",
        mapping=HEADLINES,
    ).version
    steps: list[str] = []
    result = assets.process(
        session, settings=settings, owner=owner, version_id=ingested.id, on_step=steps.append
    )
    final = result.final
    assert [s.asset for s in result.steps] == [
        "raw",
        "validated",
        "cleaned",
        "language_detected",
        "pii_scrubbed",
        "deduplicated",
        "split",
        "snapshot",
    ]
    chain: list[str] = []
    node = service.lineage(session, version=final)
    while True:
        chain.append(node.transform)
        if not node.parents:
            break
        (node,) = node.parents
    assert chain == [
        "split",
        "deduplicated",
        "pii_scrubbed",
        "language_detected",
        "cleaned",
        "ingest",
    ]
    assert node.id == ingested.id
    assert final.row_count == 79  # the near duplicate is gone
    assert set(final.split_counts) <= {"train", "validation", "test"}
    assert sum(final.split_counts.values()) == 79
    rows = service.load_frame(settings, final).set_index("id")
    assert rows.loc["0", "text"] == "Mail me at [EMAIL] now"
    assert rows.loc["1", "language"] == "fr"
    assert rows.loc["5", "language"] == "en"
    assert "4" not in rows.index
    assert final.transform_params["rule"] == "hash_of_normalised_text"

    # Processing is deterministic: a second run finds every version already there.
    before = _count(session)
    again = assets.process(session, settings=settings, owner=owner, version_id=ingested.id)
    assert again.final.id == final.id
    assert not any(s.created for s in again.steps)
    assert _count(session) == before
    # The processed version is a fixed point: processing it changes nothing.
    assert (
        assets.process(session, settings=settings, owner=owner, version_id=final.id).final.id
        == final.id
    )
    with pytest.raises(NotFound):
        assets.process(session, settings=settings, owner=owner, version_id="0" * 32)


def test_split_rules_match_the_reference_datasets() -> None:
    official = pd.DataFrame(
        {
            "id": [f"train_{i}_7" for i in range(200)] + ["test_1_2"],
            "text": [f"t{i}" for i in range(201)],
            "label": [i % 2 for i in range(201)],
            "split": ["train"] * 200 + ["test"],
        }
    )
    out, params = transforms.split(official)
    fractions = {"train": 1 - IMDB_VALIDATION_FRACTION, "validation": IMDB_VALIDATION_FRACTION}
    expected = [hash_split(i, fractions, salt=SPLIT_SALT) for i in official["id"][:200]]
    assert out["split"].tolist() == [*expected, "test"]
    assert params["rule"] == "official_test_validation_from_train"
    assert transforms.split(out)[0]["split"].tolist() == out["split"].tolist()


def test_version_metadata_serialises(
    session: Session, settings: Settings, owner: service.Owner, tmp_path: Path
) -> None:
    from sentimentops.training.datasets.schemas import DatasetVersionOut

    version = service.ingest(
        session,
        settings=settings,
        owner=owner,
        path=_csv(tmp_path, _headlines()),
        task="sarcasm",
        name="heads",
        mapping=HEADLINES,
    ).version
    dumped = json.loads(DatasetVersionOut.model_validate(version).model_dump_json(by_alias=True))
    assert dumped["schema"][1] == {"name": "text", "dtype": "string"}
    assert dumped["content_hash"] == version.content_hash
