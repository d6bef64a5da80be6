import type { Schemas } from "../api/client";

/** A stand-in for the API at the fetch boundary: answers by "METHOD /path" with the wire format
 * the generated types describe, and records every request for assertions. */
export type Handler = (request: Request) => Response | Promise<Response>;

export interface FakeApi {
  fetch: (request: Request) => Promise<Response>;
  requests: Request[];
  on: (route: string, handler: Handler) => void;
}

export const BASE_URL = "http://api.test";

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

export function errorBody(error: string, detail: string): unknown {
  return { error, detail, request_id: "req-1" };
}

export function fakeApi(handlers: Record<string, Handler> = {}): FakeApi {
  const routes = new Map(Object.entries(handlers));
  const requests: Request[] = [];
  return {
    requests,
    on: (route, handler) => routes.set(route, handler),
    fetch: async (request) => {
      requests.push(request.clone());
      const url = new URL(request.url);
      const handler = routes.get(`${request.method} ${url.pathname}`);
      if (!handler) return json(404, errorBody("NotFound", `no fake for ${request.method} ${url.pathname}`));
      return handler(request);
    },
  };
}

export function who(roles: Schemas["Role"][], name = "alice"): Schemas["WhoAmI"] {
  return {
    tenant_id: "t-1",
    tenant: "acme",
    subject: `sa-${name}`,
    name,
    kind: "service",
    roles,
    method: "token",
    issuer: null,
  };
}

export function token(expiresIn = 900, accessToken = "tok-1"): Schemas["TokenResponse"] {
  return { access_token: accessToken, token_type: "Bearer", expires_in: expiresIn };
}
