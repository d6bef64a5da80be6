import { type ReactNode, createContext, useContext, useSyncExternalStore } from "react";
import { type ApiClient, type FetchLike, type Role, makeApiClient } from "./api/client";
import { AuthSession, type SessionState } from "./auth/session";

/** What the views talk to: the session and the typed API client bound to it. */
export interface Services {
  session: AuthSession;
  api: ApiClient;
}

export function makeServices(baseUrl: string, fetch: FetchLike): Services {
  const session = new AuthSession({ baseUrl, fetch });
  const api = makeApiClient({
    baseUrl,
    fetch,
    credential: session.currentBearer,
    // Any 401 means the credential is no longer accepted: back to the login page.
    onUnauthorized: () => session.signOut("expired"),
  });
  return { session, api };
}

const ServicesContext = createContext<Services | null>(null);

export function ServicesProvider({ services, children }: { services: Services; children: ReactNode }) {
  return <ServicesContext.Provider value={services}>{children}</ServicesContext.Provider>;
}

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (services === null) throw new Error("useServices outside ServicesProvider");
  return services;
}

export function useApi(): ApiClient {
  return useServices().api;
}

export function useSessionState(): SessionState {
  const { session } = useServices();
  return useSyncExternalStore(session.subscribe, session.getSnapshot);
}

/** The signed-in principal's roles (none when signed out). */
export function useRoles(): readonly Role[] {
  const state = useSessionState();
  return state.status === "signedIn" ? state.who.roles : [];
}
