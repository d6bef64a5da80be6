"""Analytics over the prediction log and its labels: confusion, accuracy over time, volume, A/B
of production against the canary, and drift per day (docs/analytics.md)."""
