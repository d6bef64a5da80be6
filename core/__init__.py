"""The kernel: settings, logging, metrics, database sessions, domain errors and their HTTP
mapping, the audit log, the OPA and Temporal clients and the model-registry seam. Nothing here
imports a domain (tests/test_layers.py)."""
