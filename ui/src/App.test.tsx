import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { errorBody, fakeApi, json, token, who } from "./test/fakeApi";
import { renderApp, signInAs } from "./test/render";

const MODELS = { models: [], canary_shares: {}, canary_share: 0 };

describe("login and route guards", () => {
  it("sends a signed-out visitor to the login page and back after signing in", async () => {
    const api = fakeApi({
      "POST /api/v1/auth/token": () => json(200, token()),
      "GET /api/v1/auth/whoami": () => json(200, who(["approver"])),
      "GET /api/v1/approvals": () => json(200, []),
    });
    renderApp(api, "/approvals");
    expect(await screen.findByRole("heading", { name: "Sign in to SentimentOps" })).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText(/Client ID/), "sa-1");
    await userEvent.type(screen.getByLabelText(/Client secret/), "s3cret");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "Approvals" })).toBeInTheDocument();
  });

  it("says when credentials are refused", async () => {
    const api = fakeApi({
      "GET /api/v1/auth/whoami": () => json(401, errorBody("Unauthorized", "invalid credentials")),
    });
    renderApp(api, "/");
    await userEvent.click(await screen.findByRole("tab", { name: "API key" }));
    await userEvent.type(screen.getByLabelText(/API key/), "nope");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("These credentials were not accepted.");
  });

  it("returns to the login page, saying why, when the API answers 401", async () => {
    const api = fakeApi({ "GET /api/v1/models": () => json(200, MODELS) });
    const view = renderApp(api, "/playground");
    await act(() => signInAs(view.services, api, ["viewer"]));
    await screen.findByRole("heading", { name: "Playground" });
    api.on("POST /api/v1/analyze", () => json(401, errorBody("Unauthorized", "token expired")));
    await userEvent.type(screen.getByLabelText("Text to score"), "hi");
    await userEvent.click(screen.getByRole("button", { name: "Score" }));
    expect(await screen.findByRole("heading", { name: "Sign in to SentimentOps" })).toBeInTheDocument();
    expect(screen.getByText(/Your session ended/)).toBeInTheDocument();
  });

  it("lists the views a role may use, later ones as coming soon", async () => {
    const api = fakeApi({ "GET /api/v1/models": () => json(200, MODELS) });
    const view = renderApp(api, "/playground");
    await act(() => signInAs(view.services, api, ["annotator"]));
    const nav = await screen.findByRole("navigation", { name: "Main navigation" });
    expect(within(nav).getByRole("link", { name: "Playground" })).toBeInTheDocument();
    // An annotator reads neither approvals nor plans, and administers nothing.
    expect(within(nav).queryByText("Approvals")).toBeNull();
    expect(within(nav).queryByText("Plans")).toBeNull();
    expect(within(nav).queryByText("Admin")).toBeNull();
    const labeling = within(nav).getByText("Labeling studio").closest("li")!;
    expect(labeling).toHaveAttribute("aria-disabled", "true");
    expect(within(labeling as HTMLElement).getByText("soon")).toBeInTheDocument();
  });

  it("blocks a page the role may not open", async () => {
    const api = fakeApi();
    const view = renderApp(api, "/approvals");
    await act(() => signInAs(view.services, api, ["annotator"]));
    expect(await screen.findByRole("alert")).toHaveTextContent("it needs one of the roles approver");
    expect(api.requests.some((r) => new URL(r.url).pathname === "/api/v1/approvals")).toBe(false);
  });

  it("switches language and theme", async () => {
    const api = fakeApi({ "GET /api/v1/models": () => json(200, MODELS) });
    const view = renderApp(api, "/playground");
    await act(() => signInAs(view.services, api, ["viewer"]));
    await screen.findByRole("heading", { name: "Playground" });
    await userEvent.click(screen.getByRole("button", { name: "Switch to dark mode" }));
    expect(screen.getByRole("button", { name: "Switch to light mode" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("combobox", { name: "Language" }));
    await userEvent.click(screen.getByRole("option", { name: "DE" }));
    expect(await screen.findByRole("button", { name: "Abmelden" })).toBeInTheDocument();
    expect(document.documentElement.lang).toBe("de");
  });

  it("signing out forgets the session", async () => {
    const api = fakeApi({ "GET /api/v1/models": () => json(200, MODELS) });
    const view = renderApp(api, "/playground");
    await act(() => signInAs(view.services, api, ["viewer"]));
    await userEvent.click(await screen.findByRole("button", { name: "Sign out" }));
    expect(await screen.findByRole("heading", { name: "Sign in to SentimentOps" })).toBeInTheDocument();
    expect(view.services.session.currentBearer()).toBeNull();
  });
});
