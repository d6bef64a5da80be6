"""Content-versioned datasets: ingestion, validation, processing assets and lineage."""
