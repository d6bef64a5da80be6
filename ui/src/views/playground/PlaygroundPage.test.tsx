import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Schemas } from "../../api/client";
import { errorBody, fakeApi, json } from "../../test/fakeApi";
import { renderApp, signInAs } from "../../test/render";

type Prediction = Schemas["Prediction"];

function prediction(label: string, probability: number, other: string, version: string, explanation?: Schemas["TokenWeight"][]): Prediction {
  return {
    label,
    probability,
    scores: { [label]: probability, [other]: 1 - probability },
    in_domain: true,
    model: { name: `${label === "positive" || label === "negative" ? "sentiment" : "sarcasm"}-model`, version, alias: "production", route: "main", language: null },
    explanation: explanation ?? null,
  };
}

const MODELS: Schemas["ServingModels"] = {
  models: [
    { name: "sentiment-model", version: "3", alias: "production", route: "main", language: null },
    { name: "sarcasm-model", version: "7", alias: "production", route: "main", language: null },
  ],
  canary_shares: { sentiment: 0, sarcasm: 0 },
  canary_share: 0,
};

async function openPlayground(roles: Schemas["Role"][] = ["viewer"]) {
  const api = fakeApi({ "GET /api/v1/models": () => json(200, MODELS) });
  const view = renderApp(api, "/playground");
  await act(() => signInAs(view.services, api, roles));
  await screen.findByRole("heading", { name: "Playground" });
  return { api, ...view };
}

describe("Playground", () => {
  it("scores a text for sentiment and sarcasm and names the model versions", async () => {
    const { api } = await openPlayground();
    api.on("POST /api/v1/analyze", async (request) => {
      const body = (await request.json()) as Schemas["ScoreRequest"];
      expect(body).toEqual({ text: "What a great film", explain: true });
      const analysis: Schemas["AnalyzeResponse"] = {
        predictions: [
          {
            sentiment: prediction("positive", 0.93, "negative", "3", [
              { token: "great", weight: 0.8 },
              { token: "film", weight: -0.2 },
            ]),
            sarcasm: prediction("not_sarcastic", 0.71, "sarcastic", "7"),
          },
        ],
      };
      return json(200, analysis);
    });
    expect(await screen.findByText(/Serving: sentiment-model v3 \(production\)/)).toBeInTheDocument();

    await userEvent.type(screen.getByLabelText("Text to score"), "What a great film");
    await userEvent.click(screen.getByRole("button", { name: "Score" }));

    expect(await screen.findByTestId("playground.sentiment-label")).toHaveTextContent("positive · 93.0 %");
    expect(screen.getByTestId("playground.sarcasm-label")).toHaveTextContent("not_sarcastic · 71.0 %");
    expect(screen.getByTestId("playground.sentiment-model")).toHaveTextContent("sentiment-model v3 (production)");
    expect(screen.getByTestId("playground.sarcasm-model")).toHaveTextContent("sarcasm-model v7 (production)");

    // Highlights carry their meaning in text too, not only in colour.
    const highlights = screen.getByTestId("token-highlights");
    expect(within(highlights).getByLabelText("great: +0.800, supports")).toBeInTheDocument();
    expect(within(highlights).getByLabelText("film: −0.200, against")).toBeInTheDocument();
    expect(screen.getByText(/solid underline, blue: supports “positive”/)).toBeInTheDocument();
  });

  it("shows the API's refusal", async () => {
    const { api } = await openPlayground();
    api.on("POST /api/v1/analyze", () =>
      json(422, errorBody("ValidationError", "text is longer than MAX_TEXT_CHARS (20000)")),
    );
    await userEvent.type(screen.getByLabelText("Text to score"), "x");
    await userEvent.click(screen.getByRole("button", { name: "Score" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("longer than MAX_TEXT_CHARS");
    expect(screen.getByRole("alert")).toHaveTextContent("request id req-1");
  });

  it("scores a pasted batch in chunks with a progress bar", async () => {
    const { api } = await openPlayground();
    const seen: number[] = [];
    api.on("POST /api/v1/analyze", async (request) => {
      const body = (await request.json()) as { texts: string[] };
      seen.push(body.texts.length);
      return json(200, {
        predictions: body.texts.map(() => ({
          sentiment: prediction("negative", 0.6, "positive", "3"),
          sarcasm: prediction("sarcastic", 0.55, "not_sarcastic", "7"),
        })),
      });
    });
    await userEvent.click(screen.getByRole("tab", { name: "Batch" }));
    const lines = Array.from({ length: 70 }, (_, i) => `text ${i}`).join("\n");
    await userEvent.click(screen.getByLabelText("Texts, one per line"));
    await userEvent.paste(lines);
    await userEvent.click(screen.getByRole("button", { name: "Score 70 texts" }));

    expect(await screen.findByText("70 of 70 scored")).toBeInTheDocument();
    expect(seen).toEqual([64, 6]);
    const bar = screen.getByRole("progressbar", { name: "Batch progress" });
    expect(bar).toHaveAttribute("aria-valuenow", "100");
    const table = screen.getByRole("table", { name: "Batch results" });
    expect(within(table).getAllByRole("row")).toHaveLength(71);
    expect(screen.getByRole("link", { name: "Download results (CSV)" })).toHaveAttribute("download");
  });

  it("reads texts from a CSV file", async () => {
    const { api } = await openPlayground();
    let sent: string[] = [];
    api.on("POST /api/v1/analyze", async (request) => {
      sent = ((await request.json()) as { texts: string[] }).texts;
      return json(200, {
        predictions: sent.map(() => ({
          sentiment: prediction("positive", 0.9, "negative", "3"),
          sarcasm: prediction("not_sarcastic", 0.9, "sarcastic", "7"),
        })),
      });
    });
    await userEvent.click(screen.getByRole("tab", { name: "Batch" }));
    const file = new File(['id,text\n1,"fine, really"\n2,meh\n'], "reviews.csv", { type: "text/csv" });
    const input = document.querySelector<HTMLInputElement>('input[type="file"]');
    await userEvent.upload(input!, file);
    expect(await screen.findByText("From reviews.csv")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Score 2 texts" }));
    await waitFor(() => expect(sent).toEqual(["fine, really", "meh"]));
    expect(await screen.findByText("2 of 2 scored")).toBeInTheDocument();
  });
});
