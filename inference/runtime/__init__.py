"""Model runtimes for serving: each loads one artifact format and scores batches of texts.
numpy, onnxruntime and tokenizers only: torch and scikit-learn never load in the API process."""
