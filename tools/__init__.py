"""Typed tools (Pydantic in/out) that plans call: train, evaluate, promote, rollback, score,
metrics, validate, search_kb. Each is a Temporal activity and a LangGraph tool schema, and is
always asked of policy first (see workflows/policy_check.py)."""
