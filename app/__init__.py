"""The app layer: the only place that knows every domain. The FastAPI app factory, the CLI, the
table registry and migrations, and the process supervisor behind `sentimentops up`."""
