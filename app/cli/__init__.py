"""The `sentimentops` command line."""
