import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Schemas } from "../../api/client";
import { errorBody, fakeApi, json } from "../../test/fakeApi";
import { renderApp, signInAs } from "../../test/render";

const HASH = "ab".repeat(32);

function approval(overrides: Partial<Schemas["ApprovalOut"]> = {}): Schemas["ApprovalOut"] {
  return {
    id: "apr-1",
    workflow_id: "plan-42",
    plan_hash: HASH,
    step_index: 2,
    tool: "promote_model",
    params: { task: "sentiment", version: "4", alias: "production" },
    requester: "bob",
    requester_kind: "human",
    requested_by: null,
    rationale: "Candidate beats production by 1.2 points",
    reasons: ["promotion to production needs an approver"],
    required_role: "approver",
    status: "pending",
    created_at: "2026-12-03T10:00:00Z",
    expires_at: "2026-12-04T10:00:00Z",
    decided_by: null,
    decided_at: null,
    comment: null,
    workflow_url: "http://127.0.0.1:8233/namespaces/default/workflows/plan-42",
    ...overrides,
  };
}

async function openInbox(roles: Schemas["Role"][], approvals: Schemas["ApprovalOut"][]) {
  const api = fakeApi({ "GET /api/v1/approvals": () => json(200, approvals) });
  const view = renderApp(api, "/approvals");
  await act(() => signInAs(view.services, api, roles));
  await screen.findByRole("heading", { name: "Approvals" });
  return { api, ...view };
}

describe("Approvals inbox", () => {
  it("shows a pending step's details and links, asking for pending ones", async () => {
    const { api } = await openInbox(["viewer"], [approval()]);
    const card = await screen.findByRole("article", { name: "Step 3: promote_model" });
    expect(within(card).getByText("Candidate beats production by 1.2 points")).toBeInTheDocument();
    expect(within(card).getByText("promotion to production needs an approver")).toBeInTheDocument();
    expect(within(card).getByText(HASH.slice(0, 12))).toBeInTheDocument();
    expect(within(card).getByLabelText("Parameters")).toHaveTextContent('"alias": "production"');
    expect(within(card).getByRole("link", { name: "Temporal web UI" })).toHaveAttribute(
      "href",
      "http://127.0.0.1:8233/namespaces/default/workflows/plan-42",
    );
    expect(within(card).getByRole("link", { name: "Open the plan" })).toHaveAttribute("href", "/plans/plan-42");
    const listed = api.requests.find((r) => new URL(r.url).pathname === "/api/v1/approvals");
    expect(new URL(listed!.url).searchParams.get("status")).toBe("pending");
  });

  it("never shows a viewer the approve button", async () => {
    await openInbox(["viewer", "ml_engineer"], [approval()]);
    await screen.findByRole("article");
    expect(screen.queryByRole("button", { name: "Approve…" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Reject…" })).toBeNull();
  });

  it("lets an approver approve with a reason bound to the plan hash", async () => {
    const { api } = await openInbox(["approver"], [approval()]);
    let decision: unknown = null;
    api.on("POST /api/v1/approvals/apr-1/approve", async (request) => {
      decision = await request.json();
      return json(200, approval({ status: "approved", decided_by: "alice" }));
    });
    await userEvent.click(await screen.findByRole("button", { name: "Approve…" }));
    const dialog = screen.getByRole("dialog", { name: "Approve step 3 (promote_model)" });
    const confirm = within(dialog).getByRole("button", { name: "Approve" });
    expect(confirm).toBeDisabled(); // no reason yet
    await userEvent.type(within(dialog).getByLabelText(/Reason/), "metrics checked");
    await userEvent.click(confirm);
    await screen.findByRole("article"); // the list again
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(decision).toEqual({ plan_hash: HASH, comment: "metrics checked" });
  });

  it("shows why a decision was refused and keeps the dialog open", async () => {
    const { api } = await openInbox(["approver"], [approval()]);
    api.on("POST /api/v1/approvals/apr-1/reject", () =>
      json(409, errorBody("Conflict", "the plan changed: its hash is no longer the one approved")),
    );
    await userEvent.click(await screen.findByRole("button", { name: "Reject…" }));
    const dialog = screen.getByRole("dialog");
    await userEvent.type(within(dialog).getByLabelText(/Reason/), "too risky");
    await userEvent.click(within(dialog).getByRole("button", { name: "Reject" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("the plan changed");
  });

  it("has an empty state and an error state", async () => {
    const { api } = await openInbox(["approver"], []);
    expect(await screen.findByText("Nothing waits for an approval.")).toBeInTheDocument();
    api.on("GET /api/v1/approvals", () => json(503, errorBody("ServiceUnavailable", "database down")));
    await userEvent.click(screen.getByLabelText("Status"));
    await userEvent.click(screen.getByRole("option", { name: "All" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("database down");
  });
});

describe("Plans", () => {
  it("lists plans with their status and opens one with its steps", async () => {
    const plan: Schemas["PlanSummary"] = {
      id: "plan-42",
      proposer: "bob",
      plan_hash: HASH,
      rationale: "Retrain sentiment",
      tools: ["train_model", "promote_model"],
      status: "waiting_approval",
      message: "",
      created_at: "2026-12-03T10:00:00Z",
      finished_at: null,
      workflow_url: null,
    };
    const api = fakeApi({
      "GET /api/v1/plans": () => json(200, [plan]),
      "GET /api/v1/plans/plan-42": () =>
        json(200, {
          plan,
          progress: {
            workflow_id: "plan-42",
            plan_hash: HASH,
            tenant: "acme",
            proposer: "bob",
            status: "waiting_approval",
            current_step: 1,
            message: "",
            steps: [
              { index: 0, tool: "train_model", status: "succeeded", policy_reasons: [], result: { version: "4" } },
              { index: 1, tool: "promote_model", status: "waiting_approval", policy_reasons: ["needs approver"], approval_id: "apr-1" },
            ],
          },
        } satisfies Schemas["PlanDetail"]),
    });
    const view = renderApp(api, "/plans");
    await act(() => signInAs(view.services, api, ["viewer"]));
    const row = (await screen.findByRole("link", { name: "Retrain sentiment" })).closest("tr")!;
    expect(within(row as HTMLElement).getByText("waiting for approval")).toBeInTheDocument();
    expect(within(row as HTMLElement).getByText("train_model → promote_model")).toBeInTheDocument();

    await userEvent.click(screen.getByRole("link", { name: "Retrain sentiment" }));
    const steps = await screen.findByRole("table", { name: "Steps" });
    const rows = within(steps).getAllByRole("row");
    expect(rows[1]).toHaveTextContent("train_model");
    expect(rows[1]).toHaveTextContent("succeeded");
    expect(rows[2]).toHaveTextContent("needs approver");
    expect(rows[2]).toHaveTextContent("awaiting a decision");
    expect(rows[2]).toHaveAttribute("aria-current", "step");
  });

  it("filters plans by status", async () => {
    const api = fakeApi({ "GET /api/v1/plans": () => json(200, []) });
    const view = renderApp(api, "/plans");
    await act(() => signInAs(view.services, api, ["viewer"]));
    await screen.findByText("No plans yet.");
    await userEvent.click(screen.getByLabelText("Status"));
    await userEvent.click(screen.getByRole("option", { name: "gate failed" }));
    await waitFor(() => {
      const last = new URL(api.requests.at(-1)!.url);
      expect(last.pathname).toBe("/api/v1/plans");
      expect(last.searchParams.get("status")).toBe("gate_failed");
    });
  });

  it("says when there are no plans", async () => {
    const api = fakeApi({ "GET /api/v1/plans": () => json(200, []) });
    const view = renderApp(api, "/plans");
    await act(() => signInAs(view.services, api, ["approver"]));
    expect(await screen.findByText("No plans yet.")).toBeInTheDocument();
  });
});
