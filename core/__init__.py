"""Platform core: settings, logging, database and migrations, audit log, OPA and Temporal clients,
the process supervisor behind `sentimentops up`, the HTTP app and the CLI."""
