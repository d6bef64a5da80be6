"""Append-only, hash-chained audit log: who did what to which resource, with which outcome."""
