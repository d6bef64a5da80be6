import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Role = Schemas["Role"];
export type WhoAmI = Schemas["WhoAmI"];
export type ApiClient = Client<paths>;
export type FetchLike = (request: Request) => Promise<Response>;

/** The platform's error envelope (core/http/errors.py): `error` names the kind, `detail` says why. */
interface ErrorEnvelope {
  error?: string;
  detail?: unknown;
  request_id?: string;
}

/** A non-2xx answer of the API, with the envelope's fields when the body carried them. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly requestId: string | null;

  constructor(status: number, body: unknown) {
    const envelope: ErrorEnvelope = typeof body === "object" && body !== null ? body : {};
    const detail =
      typeof envelope.detail === "string"
        ? envelope.detail
        : envelope.detail !== undefined
          ? JSON.stringify(envelope.detail)
          : `HTTP ${status}`;
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.code = typeof envelope.error === "string" ? envelope.error : null;
    this.requestId = typeof envelope.request_id === "string" ? envelope.request_id : null;
  }
}

/** The `data` of an openapi-fetch result, or the API's error thrown as an ApiError. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (!result.response.ok || result.data === undefined) {
    throw new ApiError(result.response.status, result.error);
  }
  return result.data;
}

export interface ClientOptions {
  baseUrl: string;
  fetch: FetchLike;
  /** The bearer credential for the next request (an access token or API key), or null. */
  credential: () => string | null;
  /** Called when the API answers 401 to an authenticated request: the credential is dead. */
  onUnauthorized: () => void;
}

/** The typed client every view uses: adds the credential and reports 401s to the session. */
export function makeApiClient(options: ClientOptions): ApiClient {
  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch: options.fetch });
  client.use({
    onRequest({ request }) {
      const credential = options.credential();
      if (credential !== null && !request.headers.has("Authorization")) {
        request.headers.set("Authorization", `Bearer ${credential}`);
      }
      return request;
    },
    onResponse({ request, response }) {
      if (response.status === 401 && request.headers.has("Authorization")) {
        options.onUnauthorized();
      }
      return response;
    },
  });
  return client;
}
