import { render } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { App, makeQueryClient } from "../App";
import type { Schemas } from "../api/client";
import { makeServices, type Services } from "../services";
import { useUiStore } from "../uiStore";
import { BASE_URL, type FakeApi, json, token, who } from "./fakeApi";

/** The whole app in a memory router against `api`. */
export function renderApp(api: FakeApi, path = "/") {
  useUiStore.setState({ locale: "en", mode: "light" });
  const services = makeServices(BASE_URL, api.fetch);
  const view = render(
    <MemoryRouter initialEntries={[path]}>
      <App services={services} queryClient={makeQueryClient()} />
    </MemoryRouter>,
  );
  return { ...view, services };
}

/** Signs `services` in with an API key as a principal holding `roles`. */
export async function signInAs(services: Services, api: FakeApi, roles: Schemas["Role"][], name = "alice") {
  api.on("GET /api/v1/auth/whoami", () => json(200, who(roles, name)));
  api.on("POST /api/v1/auth/token", () => json(200, token()));
  await services.session.signIn({ kind: "apiKey", apiKey: "key-1" });
}
