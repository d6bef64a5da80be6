"""SentimentOps, as one importable application.

The design card keeps the domain folders (core/, workflows/, agents/, tools/, inference/,
training/, knowledge_base/, approvals/) at the repository's top level. This package gathers them
under one import name through symlinks, because bare names such as `workflows` are already taken
by dependencies (llama-index-workflows installs a top-level `workflows`). Always import
`sentimentops.<folder>`, never the bare folder name.
"""

__version__ = "0.1.0"
