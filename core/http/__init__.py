"""The HTTP application: app factory, middleware, error mapping and the platform routes
(health, readiness, version, the landing page). Domain routers plug in from their folders."""
