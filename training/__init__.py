"""Datasets (versioned by content hash), validation (Great Expectations), Dagster assets, model
families, evaluation, ONNX export and the MLflow registry."""
