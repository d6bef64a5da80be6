"""Data curation: data issues opened by the Data Curation agent, and its curation flow."""
