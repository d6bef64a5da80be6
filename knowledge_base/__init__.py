"""LlamaIndex ingestion of runbooks, design docs and run metadata into Qdrant, and retrieval for
the agents (Qdrant local mode by default, a Qdrant server in scale-out)."""
