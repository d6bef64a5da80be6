"""Temporal workflows that run the ML-operations lifecycle as durable steps.

Workflow code here is deterministic: all I/O happens in activities (workflows/activities.py),
which receive their collaborators (database, policy engine) from the worker (workflows/worker.py).
"""
