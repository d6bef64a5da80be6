"""Identity HTTP API: the token endpoint, JWKS and bootstrap (public: they check their own
credentials), and the authenticated admin API for tenants, service accounts, roles and API keys.
Handlers are thin: reads apply a named permission and call the service; changes call one flow
(identity/flows.py), which checks the policy and owns the transaction."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from sentimentops.core.errors import NotFound, OAuthError
from sentimentops.core.http.deps import PUBLIC, FlowDep, ReadSessionDep
from sentimentops.core.vocabulary import Role
from sentimentops.identity import flows, keys, permissions, service
from sentimentops.identity.deps import AUTHENTICATED, CurrentPrincipal
from sentimentops.identity.models import Tenant
from sentimentops.identity.principal import Principal
from sentimentops.identity.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    BootstrapRequest,
    Jwks,
    ServiceAccountCreate,
    ServiceAccountCredentials,
    ServiceAccountOut,
    TenantCreate,
    TenantCreated,
    TenantOut,
    TenantUpdate,
    TokenResponse,
    WhoAmI,
)

# Public by design: these endpoints are how a caller gets credentials (token, bootstrap) or
# verifies them (JWKS); each authenticates its own input and reveals no tenant data.
public_router = APIRouter(dependencies=[PUBLIC], tags=["auth"])
# Everything else requires an authenticated principal; policies refine it per handler.
router = APIRouter(prefix="/api/v1", dependencies=[AUTHENTICATED])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_TOKEN_FORM_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "scope": {"type": "string"},
                    },
                }
            }
        },
    }
}


async def _token_form(request: Request) -> dict[str, str]:
    """The urlencoded body of a token request (RFC 6749 §4.4.2); parsed here because the form
    is tiny and python-multipart is not a dependency."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "use application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl((await request.body()).decode(), strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "malformed form body") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:  # §3.2: parameters must not be repeated
            raise OAuthError("invalid_request", f"repeated parameter {name}")
        form[name] = value
    return form


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """client_id/secret from HTTP Basic (§2.3.1) or the form body, never both."""
    authorization = request.headers.get("authorization", "")
    in_body = "client_secret" in form
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic" or in_body:
            raise OAuthError("invalid_request", "use exactly one client authentication method")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client", "malformed Basic credentials") from exc
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise OAuthError("invalid_client", "malformed Basic credentials")
        return unquote(client_id), unquote(secret)
    if not in_body or "client_id" not in form:
        raise OAuthError("invalid_client", "client authentication required")
    return form["client_id"], form["client_secret"]


@public_router.post(
    "/api/v1/auth/token",
    operation_id="auth-token",
    openapi_extra=_TOKEN_FORM_SCHEMA,
    responses={400: {"description": "RFC 6749 §5.2 error"}, 401: {"description": "invalid_client"}},
)
def token(
    request: Request,
    response: Response,
    ctx: FlowDep,
    form: Annotated[dict[str, str], Depends(_token_form)],
) -> TokenResponse:
    """OAuth2 client-credentials grant: a short-lived access token for a service account."""
    grant = form.get("grant_type")
    if grant is None:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
    if form.get("scope"):
        # Access is decided by role bindings, not scopes; refusing beats silently ignoring.
        raise OAuthError("invalid_scope", "scopes are not supported; roles decide access")
    client_id, client_secret = _client_credentials(request, form)
    issued = flows.issue_token_flow(ctx, client_id=client_id, client_secret=client_secret)
    response.headers.update(_NO_STORE)
    return issued


@public_router.get("/.well-known/jwks.json", operation_id="auth-jwks")
def jwks(session: ReadSessionDep, response: Response) -> Jwks:
    """Public keys that verify our access tokens (current and previous)."""
    # Short caching: verifiers pick up a rotation within a minute.
    response.headers["Cache-Control"] = "public, max-age=60"
    return Jwks(keys=keys.jwks(session)["keys"])


@public_router.post(
    "/api/v1/auth/bootstrap",
    operation_id="auth-bootstrap",
    status_code=201,
    responses={401: {"description": "bad token"}, 409: {"description": "bootstrap closed"}},
)
def bootstrap(
    body: BootstrapRequest, ctx: FlowDep, response: Response
) -> ServiceAccountCredentials:
    """First run only: create the first platform admin and return its credentials once."""
    created = flows.bootstrap_flow(ctx, token=body.bootstrap_token, name=body.name)
    response.headers.update(_NO_STORE)
    return created


@router.get("/auth/whoami", operation_id="auth-whoami", tags=["auth"])
def whoami(principal: CurrentPrincipal) -> WhoAmI:
    """The caller as the platform sees it: tenant, subject, kind and roles."""
    return WhoAmI.of(principal)


@router.post("/tenants", operation_id="tenants-create", status_code=201, tags=["tenants"])
def create_tenant(
    body: TenantCreate, principal: CurrentPrincipal, ctx: FlowDep, response: Response
) -> TenantCreated:
    """Create a tenant, optionally with its first tenant_admin service account."""
    created = flows.create_tenant_flow(ctx, principal, body)
    if created.admin is not None:
        response.headers.update(_NO_STORE)
    return created


@router.get("/tenants", operation_id="tenants-list", tags=["tenants"])
def list_tenants(principal: CurrentPrincipal, session: ReadSessionDep) -> list[TenantOut]:
    permissions.can_manage_tenants(principal)
    return [TenantOut.of(t) for t in service.list_tenants(session)]


def _visible_tenant(session: Session, principal: Principal, tenant_id: str) -> Tenant:
    # A platform admin sees every tenant; anyone else only their own, and other ids are 404.
    if not principal.has_role(Role.PLATFORM_ADMIN) and tenant_id != principal.tenant_id:
        raise NotFound("tenant not found")
    return service.get_tenant(session, tenant_id=tenant_id)


@router.get("/tenants/{tenant_id}", operation_id="tenants-get", tags=["tenants"])
def get_tenant(tenant_id: str, principal: CurrentPrincipal, session: ReadSessionDep) -> TenantOut:
    permissions.require_role(principal, *Role)
    return TenantOut.of(_visible_tenant(session, principal, tenant_id))


@router.patch("/tenants/{tenant_id}", operation_id="tenants-update", tags=["tenants"])
def update_tenant(
    tenant_id: str, body: TenantUpdate, principal: CurrentPrincipal, ctx: FlowDep
) -> TenantOut:
    """Rename, disable or set the rate limit of a tenant."""
    return flows.update_tenant_flow(ctx, principal, tenant_id, body)


@router.post(
    "/service-accounts",
    operation_id="service_accounts-create",
    status_code=201,
    tags=["service_accounts"],
)
def create_service_account(
    body: ServiceAccountCreate, principal: CurrentPrincipal, ctx: FlowDep, response: Response
) -> ServiceAccountCredentials:
    """A service account of the caller's tenant; its client secret is returned once."""
    created = flows.create_service_account_flow(ctx, principal, body)
    response.headers.update(_NO_STORE)
    return created


@router.get("/service-accounts", operation_id="service_accounts-list", tags=["service_accounts"])
def list_service_accounts(
    principal: CurrentPrincipal, session: ReadSessionDep
) -> list[ServiceAccountOut]:
    permissions.can_manage_identities(principal)
    accounts = service.list_service_accounts(session, principal=principal)
    return [ServiceAccountOut.of(a, service.roles_of(session, a.id)) for a in accounts]


@router.get(
    "/service-accounts/{account_id}", operation_id="service_accounts-get", tags=["service_accounts"]
)
def get_service_account(
    account_id: str, principal: CurrentPrincipal, session: ReadSessionDep
) -> ServiceAccountOut:
    permissions.can_manage_identities(principal)
    account = service.get_service_account(session, principal=principal, account_id=account_id)
    return ServiceAccountOut.of(account, service.roles_of(session, account.id))


@router.delete(
    "/service-accounts/{account_id}",
    operation_id="service_accounts-disable",
    status_code=204,
    tags=["service_accounts"],
)
def disable_service_account(account_id: str, principal: CurrentPrincipal, ctx: FlowDep) -> None:
    """Disable the account: its tokens, client secret and API keys stop working at once."""
    flows.disable_service_account_flow(ctx, principal, account_id)


@router.post(
    "/service-accounts/{account_id}/secret",
    operation_id="service_accounts-rotate_secret",
    tags=["service_accounts"],
)
def rotate_client_secret(
    account_id: str, principal: CurrentPrincipal, ctx: FlowDep, response: Response
) -> ServiceAccountCredentials:
    """Replace the client secret (the old one stops working); the new one is returned once."""
    rotated = flows.rotate_client_secret_flow(ctx, principal, account_id)
    response.headers.update(_NO_STORE)
    return rotated


@router.put(
    "/service-accounts/{account_id}/roles/{role}",
    operation_id="service_accounts-grant_role",
    status_code=204,
    tags=["service_accounts"],
)
def grant_role(account_id: str, role: Role, principal: CurrentPrincipal, ctx: FlowDep) -> None:
    flows.set_role_flow(ctx, principal, account_id, role, granted=True)


@router.delete(
    "/service-accounts/{account_id}/roles/{role}",
    operation_id="service_accounts-revoke_role",
    status_code=204,
    tags=["service_accounts"],
)
def revoke_role(account_id: str, role: Role, principal: CurrentPrincipal, ctx: FlowDep) -> None:
    flows.set_role_flow(ctx, principal, account_id, role, granted=False)


@router.post(
    "/service-accounts/{account_id}/api-keys",
    operation_id="api_keys-create",
    status_code=201,
    tags=["api_keys"],
)
def create_api_key(
    account_id: str,
    body: ApiKeyCreate,
    principal: CurrentPrincipal,
    ctx: FlowDep,
    response: Response,
) -> ApiKeyCreated:
    """An API key for a service account of the caller's tenant; the key is returned once."""
    created = flows.create_api_key_flow(ctx, principal, account_id, body)
    response.headers.update(_NO_STORE)
    return created


@router.get("/api-keys", operation_id="api_keys-list", tags=["api_keys"])
def list_api_keys(principal: CurrentPrincipal, session: ReadSessionDep) -> list[ApiKeyOut]:
    permissions.can_manage_identities(principal)
    return [ApiKeyOut.of(k) for k in service.list_api_keys(session, principal=principal)]


@router.get("/api-keys/{key_id}", operation_id="api_keys-get", tags=["api_keys"])
def get_api_key(key_id: str, principal: CurrentPrincipal, session: ReadSessionDep) -> ApiKeyOut:
    permissions.can_manage_identities(principal)
    return ApiKeyOut.of(service.get_api_key(session, principal=principal, key_id=key_id))


@router.delete(
    "/api-keys/{key_id}", operation_id="api_keys-revoke", status_code=204, tags=["api_keys"]
)
def revoke_api_key(key_id: str, principal: CurrentPrincipal, ctx: FlowDep) -> None:
    flows.revoke_api_key_flow(ctx, principal, key_id)
