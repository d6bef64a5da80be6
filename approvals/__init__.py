"""Approval requests bound to a plan hash and step: API, CLI, web UI and the Slack Bolt app, with
notifiers behind one interface."""
