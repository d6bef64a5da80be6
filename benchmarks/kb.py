"""The knowledge base: retrieval quality, ingest throughput and query latency.

    .venv/bin/python benchmarks/kb.py [--corpus-chunks 10000] [--queries 200] [--encoder FILE]
                                      [--store DIR] [--results FILE] [--note TEXT]
                                      [--show-misses]

1. Quality: the repository's docs indexed into a fresh Qdrant local-mode store; each question
   of benchmarks/kb_eval.json (hand-written, with the source and heading that answer it) is
   searched with dense retrieval alone, keywords (BM25) alone, hybrid (RRF) and hybrid with the
   heading re-rank; recall@1, recall@5 and MRR (over the top 20) per mode.
2. Ingest: chunks per second when indexing the docs and a corpus of --corpus-chunks chunks
   (IMDB reviews from datasets/, each cut to --corpus-chars characters, as one tenant's
   uploads): chunking, embedding (MiniLM in ONNX Runtime, batches of 64) and upserts.
3. Latency: --queries searches (the evaluation questions, cycled) as that tenant over the
   platform docs and the corpus, top 5, hybrid + re-rank: the whole call (query embedding, two
   collections × dense and keyword queries, fusion) and the store's part alone, P50/P95.

The encoder is exported once into a temporary folder unless --encoder names an export; the
store lives in a temporary folder unless --store names one to keep (run again on it, the
re-index embeds nothing and the ingest rates are left out: only quality and latency). Prints
tables and writes --results (default benchmarks/results/kb.json) with the machine. Close other
work first: the machine's load is the figure's."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from machine import describe
from qdrant_client import QdrantClient
from rich.console import Console
from rich.table import Table

from sentimentops.core.knowledge import KbHit
from sentimentops.core.settings import Settings
from sentimentops.knowledge_base import sources
from sentimentops.knowledge_base.chunking import SourceDocument
from sentimentops.knowledge_base.embedding import ENCODER_FILE, Encoder, ensure_exported
from sentimentops.knowledge_base.keywords import query_vector
from sentimentops.knowledge_base.service import KnowledgeService, Retrieval
from sentimentops.knowledge_base.store import KnowledgeStore, Scope
from sentimentops.training.reference_data import load_imdb

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results" / "kb.json"
EVAL = REPO_ROOT / "benchmarks" / "kb_eval.json"
TENANT = "bench-tenant"
DEPTH = 20  # MRR looks this deep
MODES: list[tuple[str, Retrieval, bool]] = [
    ("dense", "dense", False),
    ("keywords (BM25)", "sparse", False),
    ("hybrid (RRF)", "hybrid", False),
    ("hybrid + re-rank", "hybrid", True),
]
console = Console()


def _rank(hits: list[KbHit], source: str, heading: str) -> int | None:
    for rank, hit in enumerate(hits, start=1):
        if hit.source == source and hit.heading_path and hit.heading_path[-1] == heading:
            return rank
    return None


def quality(
    service: KnowledgeService, questions: list[dict[str, str]], *, show_misses: bool
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, retrieval, rerank in MODES:
        ranks = []
        for q in questions:
            hits = service.search_sync(
                tenant_id=None, query=q["question"], limit=DEPTH, retrieval=retrieval, rerank=rerank
            )
            rank = _rank(hits, q["source"], q["heading"])
            ranks.append(rank)
            if show_misses and rerank and (rank is None or rank > 5):
                top = " › ".join(hits[0].heading_path) if hits else "-"
                console.print(f"[dim]{name}: rank {rank} for {q['question']!r}; first: {top}[/]")
        n = len(ranks)
        results[name] = {
            "recall_at_1": sum(1 for r in ranks if r == 1) / n,
            "recall_at_5": sum(1 for r in ranks if r is not None and r <= 5) / n,
            "mrr": sum(1 / r for r in ranks if r is not None) / n,
        }
    return results


def corpus(chunks: int, chars: int) -> list[SourceDocument]:
    """IMDB reviews cut to `chars` characters, one tenant's uploads, one chunk each."""
    texts = [str(t) for t in load_imdb(Settings(_env_file=None).datasets_dir)["text"]]
    documents = []
    for i in range(chunks):
        text = " ".join(texts[i % len(texts)].split())[:chars]
        documents.append(
            SourceDocument(
                source=f"upload:review-{i}",
                kind="upload",
                title=f"review {i}",
                text=text,
                tenant_id=TENANT,
                markdown=False,
            )
        )
    return documents


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def latency(service: KnowledgeService, questions: list[str], runs: int) -> dict[str, Any]:
    for q in questions[:5]:  # warm: first calls pay for allocations and caches
        service.search_sync(tenant_id=TENANT, query=q, limit=5)
    whole, store, embed = [], [], []
    for i in range(runs):
        query = questions[i % len(questions)]
        start = time.perf_counter()
        service.search_sync(tenant_id=TENANT, query=query, limit=5)
        whole.append(time.perf_counter() - start)
        start = time.perf_counter()
        [vector] = service.embedder.embed([query])
        embed.append(time.perf_counter() - start)
        sparse = query_vector(query)
        start = time.perf_counter()
        service.store.query(tenant_id=TENANT, dense=vector.tolist(), sparse=sparse, limit=30)
        store.append(time.perf_counter() - start)
    return {
        "search_top5": _percentiles(whole),
        "query_embedding": _percentiles(embed),
        "store_queries": _percentiles(store),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-chunks", type=int, default=10_000)
    parser.add_argument("--corpus-chars", type=int, default=600)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--encoder", type=Path, help="an existing export (minilm-encoder.onnx)")
    parser.add_argument("--store", type=Path, help="keep the Qdrant local-mode folder here")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--note", default="")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    questions = json.loads(EVAL.read_text(encoding="utf-8"))["questions"]

    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        start = time.perf_counter()
        onnx = args.encoder or ensure_exported(Path(tmp) / ENCODER_FILE)
        export_seconds = time.perf_counter() - start
        encoder = Encoder(onnx)
        folder = args.store or Path(tmp) / "qdrant"
        store = KnowledgeStore(QdrantClient(path=str(folder)), local=True)
        service = KnowledgeService(store, encoder)

        start = time.perf_counter()
        docs = service.sync(sources.DOCS_SCOPE, sources.platform_docs())
        docs_seconds = time.perf_counter() - start
        scores = quality(service, questions, show_misses=args.show_misses)

        documents = corpus(args.corpus_chunks, args.corpus_chars)
        start = time.perf_counter()
        with console.status(f"indexing {len(documents):,} corpus chunks …"):
            bulk = service.sync(Scope(tenant_id=TENANT, kinds=("upload",)), documents)
        bulk_seconds = time.perf_counter() - start
        timing = latency(service, [q["question"] for q in questions], args.queries)
        store.close()

    table = Table(
        title=f"retrieval on {len(questions)} questions about the docs ({docs.chunks} chunks)"
    )
    for column in ("mode", "recall@1", "recall@5", "MRR"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for name, row in scores.items():
        table.add_row(
            name, f"{row['recall_at_1']:.3f}", f"{row['recall_at_5']:.3f}", f"{row['mrr']:.3f}"
        )
    console.print(table)
    speed = Table(title="ingest and query")
    speed.add_column("measure")
    speed.add_column("value", justify="right")
    docs_rate = docs.embedded / docs_seconds if docs.embedded else None
    bulk_rate = bulk.embedded / bulk_seconds if bulk.embedded else None
    for label, rate, result in (("docs", docs_rate, docs), ("corpus", bulk_rate, bulk)):
        shown = f"{rate:.1f} chunks/s" if rate is not None else "nothing new to embed"
        speed.add_row(
            f"{label} ingest", f"{shown} ({result.embedded:,} of {result.chunks:,} embedded)"
        )
    for key, label in (
        ("search_top5", "search, top 5"),
        ("query_embedding", "query embedding"),
        ("store_queries", "store queries"),
    ):
        p = timing[key]
        speed.add_row(f"{label} P50 / P95", f"{p['p50_ms']:.1f} / {p['p95_ms']:.1f} ms")
    console.print(speed)

    results = {
        "machine": describe(args.note),
        "questions": len(questions),
        "docs_chunks": docs.chunks,
        "retrieval": scores,
        "encoder_export_seconds": export_seconds if args.encoder is None else None,
        "ingest": {
            "docs_chunks_per_second": docs_rate,
            "docs_embedded": docs.embedded,
            "corpus_chunks": bulk.chunks,
            "corpus_chars": args.corpus_chars,
            "corpus_embedded": bulk.embedded,
            "corpus_chunks_per_second": bulk_rate,
        },
        "latency": {**timing, "points": docs.chunks + bulk.chunks},
        "median_question_chars": statistics.median(len(q["question"]) for q in questions),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(f"written to {args.results}")


if __name__ == "__main__":
    main()
