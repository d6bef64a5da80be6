"""Identity, tenancy and quotas: tenants, principals and roles, API keys, first-party JWTs with a
rotating signing key, external OIDC providers, the request principal and per-tenant rate limits."""
