import createClient from "openapi-fetch";
import { ApiError, type FetchLike, type WhoAmI, unwrap } from "../api/client";
import type { paths } from "../api/schema";

/** What a person signs in with where there is no identity provider. */
export type LoginCredential =
  | { kind: "client"; clientId: string; clientSecret: string }
  | { kind: "apiKey"; apiKey: string };

/** Why the session ended, for the login page to say. */
export type SignOutReason = "signedOut" | "expired" | "refreshFailed";

export type SessionState =
  | { status: "signedOut"; reason: SignOutReason | null }
  | { status: "signedIn"; who: WhoAmI; expiresAt: number | null };

// A token is renewed once this share of its lifetime has passed: early enough that a slow
// network or a suspended laptop tab still renews before the API starts answering 401.
export const REFRESH_AT_SHARE = 0.8;
// Longest delay a browser timer accepts (2^31-1 ms); longer lifetimes are renewed in steps.
const MAX_TIMER_MS = 2_147_483_647;

interface Timers {
  now: () => number;
  setTimeout: (callback: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

const browserTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * The signed-in person, held in memory only: a reload or a new tab signs in again. Nothing is
 * written to localStorage or cookies, so a script injected into the page later cannot read a
 * stored token and no token outlives the tab. Client credentials are kept (in this object only)
 * because the client-credentials grant has no refresh token: renewing means asking again.
 */
export class AuthSession {
  private state: SessionState = { status: "signedOut", reason: null };
  private credential: LoginCredential | null = null;
  private bearer: string | null = null;
  private timer: unknown = null;
  private generation = 0;
  private readonly listeners = new Set<() => void>();
  private readonly api;

  constructor(
    private readonly options: { baseUrl: string; fetch: FetchLike; timers?: Timers },
  ) {
    this.api = createClient<paths>({ baseUrl: options.baseUrl, fetch: options.fetch });
  }

  private get timers(): Timers {
    return this.options.timers ?? browserTimers;
  }

  getSnapshot = (): SessionState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The credential to send as `Authorization: Bearer`, or null when signed out. */
  currentBearer = (): string | null => this.bearer;

  /** Exchange or check the credential; resolves signed in, or throws the API's refusal. */
  async signIn(credential: LoginCredential): Promise<void> {
    const generation = ++this.generation;
    const { bearer, expiresIn } = await this.obtain(credential);
    const who = await this.whoami(bearer);
    if (generation !== this.generation) return; // signed out or in again meanwhile
    this.credential = credential;
    this.install(bearer, who, expiresIn);
  }

  /** Forget everything; `reason` tells the login page why. */
  signOut = (reason: SignOutReason = "signedOut"): void => {
    if (this.state.status === "signedOut" && this.bearer === null) return;
    this.generation++;
    this.cancelTimer();
    this.credential = null;
    this.bearer = null;
    this.set({ status: "signedOut", reason });
  };

  private async obtain(
    credential: LoginCredential,
  ): Promise<{ bearer: string; expiresIn: number | null }> {
    if (credential.kind === "apiKey") {
      // API keys are sent as they are (the API takes them as bearer credentials) and expire
      // only when revoked or at their own expiry, which a 401 then reports.
      return { bearer: credential.apiKey, expiresIn: null };
    }
    const result = await this.api.POST("/api/v1/auth/token", {
      body: {
        grant_type: "client_credentials",
        client_id: credential.clientId,
        client_secret: credential.clientSecret,
      },
      bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    const token = unwrap(result);
    return { bearer: token.access_token, expiresIn: token.expires_in };
  }

  private async whoami(bearer: string): Promise<WhoAmI> {
    const result = await this.api.GET("/api/v1/auth/whoami", {
      headers: { Authorization: `Bearer ${bearer}` },
    });
    return unwrap(result);
  }

  private install(bearer: string, who: WhoAmI, expiresIn: number | null): void {
    this.cancelTimer();
    this.bearer = bearer;
    const now = this.timers.now();
    this.set({
      status: "signedIn",
      who,
      expiresAt: expiresIn === null ? null : now + expiresIn * 1000,
    });
    if (expiresIn !== null) {
      const delay = Math.min(expiresIn * 1000 * REFRESH_AT_SHARE, MAX_TIMER_MS);
      this.timer = this.timers.setTimeout(() => void this.refresh(), delay);
    }
  }

  private async refresh(): Promise<void> {
    this.timer = null;
    const credential = this.credential;
    if (credential === null) return;
    const generation = this.generation;
    try {
      const { bearer, expiresIn } = await this.obtain(credential);
      const who = await this.whoami(bearer);
      if (generation !== this.generation) return;
      this.install(bearer, who, expiresIn);
    } catch (error) {
      if (generation !== this.generation) return;
      // A refused renewal (secret rotated, account disabled) ends the session; a network
      // failure too, since the token is about to expire and the person must know now.
      this.signOut(error instanceof ApiError && error.status === 401 ? "expired" : "refreshFailed");
    }
  }

  private cancelTimer(): void {
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private set(state: SessionState): void {
    this.state = state;
    for (const listener of this.listeners) listener();
  }
}
