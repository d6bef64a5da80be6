import { describe, expect, it, vi } from "vitest";
import { makeServices } from "../services";
import { BASE_URL, errorBody, fakeApi, json, token, who } from "../test/fakeApi";
import { AuthSession, REFRESH_AT_SHARE } from "./session";

function manualTimers(start = 1_000_000) {
  let now = start;
  const pending: { at: number; callback: () => void; id: number }[] = [];
  let next = 1;
  return {
    now: () => now,
    setTimeout: (callback: () => void, ms: number) => {
      const id = next++;
      pending.push({ at: now + ms, callback, id });
      return id;
    },
    clearTimeout: (handle: unknown) => {
      const index = pending.findIndex((timer) => timer.id === handle);
      if (index >= 0) pending.splice(index, 1);
    },
    /** Moves the clock and runs the timers that fell due. */
    advance(ms: number) {
      now += ms;
      for (const timer of pending.filter((t) => t.at <= now)) {
        pending.splice(pending.indexOf(timer), 1);
        timer.callback();
      }
    },
    pending,
  };
}

async function settle() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

describe("AuthSession", () => {
  it("exchanges client credentials with the token endpoint, as a form, and reads whoami", async () => {
    const api = fakeApi({
      "POST /api/v1/auth/token": () => json(200, token(600, "tok-a")),
      "GET /api/v1/auth/whoami": () => json(200, who(["approver"])),
    });
    const session = new AuthSession({ baseUrl: BASE_URL, fetch: api.fetch, timers: manualTimers() });
    await session.signIn({ kind: "client", clientId: "sa-1", clientSecret: "s3cret" });

    const [tokenRequest, whoamiRequest] = api.requests;
    expect(tokenRequest?.headers.get("content-type")).toContain("application/x-www-form-urlencoded");
    const form = new URLSearchParams(await tokenRequest!.text());
    expect(Object.fromEntries(form)).toEqual({
      grant_type: "client_credentials",
      client_id: "sa-1",
      client_secret: "s3cret",
    });
    expect(whoamiRequest?.headers.get("authorization")).toBe("Bearer tok-a");
    const state = session.getSnapshot();
    expect(state.status).toBe("signedIn");
    expect(state.status === "signedIn" && state.who.roles).toEqual(["approver"]);
    expect(session.currentBearer()).toBe("tok-a");
  });

  it("renews the token before it expires and keeps the new one", async () => {
    let issued = 0;
    const api = fakeApi({
      "POST /api/v1/auth/token": () => json(200, token(100, `tok-${++issued}`)),
      "GET /api/v1/auth/whoami": () => json(200, who(["viewer"])),
    });
    const timers = manualTimers();
    const session = new AuthSession({ baseUrl: BASE_URL, fetch: api.fetch, timers });
    await session.signIn({ kind: "client", clientId: "sa-1", clientSecret: "s" });
    expect(session.currentBearer()).toBe("tok-1");

    timers.advance(100_000 * REFRESH_AT_SHARE - 1);
    await settle();
    expect(session.currentBearer()).toBe("tok-1"); // not yet due

    timers.advance(1);
    await settle();
    expect(session.currentBearer()).toBe("tok-2");
    expect(issued).toBe(2);
    // The renewal schedules the next one.
    expect(timers.pending).toHaveLength(1);
  });

  it("ends the session when the renewal is refused", async () => {
    let calls = 0;
    const api = fakeApi({
      "POST /api/v1/auth/token": () =>
        ++calls === 1 ? json(200, token(60)) : json(401, errorBody("invalid_client", "secret rotated")),
      "GET /api/v1/auth/whoami": () => json(200, who(["viewer"])),
    });
    const timers = manualTimers();
    const session = new AuthSession({ baseUrl: BASE_URL, fetch: api.fetch, timers });
    await session.signIn({ kind: "client", clientId: "sa-1", clientSecret: "s" });
    timers.advance(60_000);
    await settle();
    expect(session.getSnapshot()).toEqual({ status: "signedOut", reason: "expired" });
    expect(session.currentBearer()).toBeNull();
  });

  it("uses an API key as it is, with no renewal", async () => {
    const api = fakeApi({ "GET /api/v1/auth/whoami": () => json(200, who(["analyst"])) });
    const timers = manualTimers();
    const session = new AuthSession({ baseUrl: BASE_URL, fetch: api.fetch, timers });
    await session.signIn({ kind: "apiKey", apiKey: "sok_abc" });
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.headers.get("authorization")).toBe("Bearer sok_abc");
    expect(timers.pending).toHaveLength(0);
    expect(session.getSnapshot().status).toBe("signedIn");
  });

  it("refuses a bad credential and stays signed out", async () => {
    const api = fakeApi({
      "GET /api/v1/auth/whoami": () => json(401, errorBody("Unauthorized", "invalid credentials")),
    });
    const session = new AuthSession({ baseUrl: BASE_URL, fetch: api.fetch, timers: manualTimers() });
    await expect(session.signIn({ kind: "apiKey", apiKey: "wrong" })).rejects.toMatchObject({
      status: 401,
      message: "invalid credentials",
    });
    expect(session.getSnapshot().status).toBe("signedOut");
  });

  it("keeps nothing in web storage", async () => {
    const setItem = vi.spyOn(Storage.prototype, "setItem");
    const api = fakeApi({
      "POST /api/v1/auth/token": () => json(200, token()),
      "GET /api/v1/auth/whoami": () => json(200, who(["viewer"])),
    });
    const session = new AuthSession({ baseUrl: BASE_URL, fetch: api.fetch, timers: manualTimers() });
    await session.signIn({ kind: "client", clientId: "sa-1", clientSecret: "s" });
    expect(setItem).not.toHaveBeenCalled();
    expect(document.cookie).toBe("");
    setItem.mockRestore();
  });
});

describe("API client", () => {
  it("sends the session's credential and signs out on a 401", async () => {
    const api = fakeApi({
      "GET /api/v1/auth/whoami": () => json(200, who(["viewer"])),
      "GET /api/v1/models": () => json(401, errorBody("Unauthorized", "expired")),
    });
    const services = makeServices(BASE_URL, api.fetch);
    await services.session.signIn({ kind: "apiKey", apiKey: "key-1" });
    const result = await services.api.GET("/api/v1/models");
    expect(result.response.status).toBe(401);
    expect(api.requests.at(-1)?.headers.get("authorization")).toBe("Bearer key-1");
    expect(services.session.getSnapshot()).toEqual({ status: "signedOut", reason: "expired" });
  });

  it("does not sign out on a 403 (the role is missing, the credential is fine)", async () => {
    const api = fakeApi({
      "GET /api/v1/auth/whoami": () => json(200, who(["viewer"])),
      "GET /api/v1/metrics": () => json(403, errorBody("Forbidden", "requires platform_admin")),
    });
    const services = makeServices(BASE_URL, api.fetch);
    await services.session.signIn({ kind: "apiKey", apiKey: "key-1" });
    await services.api.GET("/api/v1/metrics");
    expect(services.session.getSnapshot().status).toBe("signedIn");
  });
});
