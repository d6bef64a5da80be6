"""Confident learning on a small synthetic set: planted label flips come out on top, with the
right label suggested; clean data gives (almost) nothing; too few rows is refused."""

from __future__ import annotations

import hashlib

import pytest

from sentimentops.core.errors import InvalidInput
from sentimentops.training.curation import suspected_label_errors
from tests.curation.synthetic import labelled


def test_planted_flips_are_found_and_ranked_first() -> None:
    frame, flipped = labelled(300, flips=10)
    found = suspected_label_errors(
        frame["id"].tolist(), frame["text"].tolist(), frame["label"].tolist(), n_classes=2
    )
    ids = [s.row_id for s in found]
    # Every row flagged is a planted flip, and nearly all flips are flagged.
    assert set(ids) <= flipped
    assert len(set(ids) & flipped) >= 9
    by_id = frame.set_index("id")
    for suspect in found:
        given = int(by_id.at[suspect.row_id, "label"])
        assert suspect.given_label == given
        assert suspect.suggested_label == 1 - given  # the label before the flip
        text = str(by_id.at[suspect.row_id, "text"])
        assert suspect.text_sha256 == hashlib.sha256(text.encode()).hexdigest()
        assert 0.5 < suspect.score <= 1.0
    scores = [s.score for s in found]
    assert scores == sorted(scores, reverse=True)  # most suspect first


def test_the_same_seed_gives_the_same_list_and_clean_data_little() -> None:
    frame, _ = labelled(300, flips=10)
    args = (frame["id"].tolist(), frame["text"].tolist(), frame["label"].tolist())
    assert suspected_label_errors(*args, n_classes=2) == suspected_label_errors(*args, n_classes=2)
    clean, _ = labelled(300, flips=0)
    assert (
        suspected_label_errors(
            clean["id"].tolist(), clean["text"].tolist(), clean["label"].tolist(), n_classes=2
        )
        == []
    )


def test_too_few_rows_of_a_label_is_refused() -> None:
    frame, _ = labelled(40, flips=0, sarcastic_share=0.1)
    with pytest.raises(InvalidInput, match="at least 10 rows each"):
        suspected_label_errors(
            frame["id"].tolist(), frame["text"].tolist(), frame["label"].tolist(), n_classes=2
        )
    with pytest.raises(InvalidInput, match="same length"):
        suspected_label_errors(["a"], ["x", "y"], [0], n_classes=2)
