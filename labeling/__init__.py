"""Feedback from applications and labeling projects (docs/labeling.md)."""
