import { describe, expect, it } from "vitest";
import { parseCsv, runBatch, textsFromCsv, textsFromList } from "./batch";

describe("batch input", () => {
  it("takes one text per non-blank line", () => {
    expect(textsFromList("good film\r\n\n  bad plot  \n")).toEqual(["good film", "bad plot"]);
  });

  it("parses quoted CSV fields with commas, quotes and newlines", () => {
    const csv = '\ufeffid,text\n1,"Loved it, truly"\n2,"He said ""wow""\nand left"\r\n3,plain\n';
    expect(parseCsv(csv)).toEqual([
      ["id", "text"],
      ["1", "Loved it, truly"],
      ["2", 'He said "wow"\nand left'],
      ["3", "plain"],
    ]);
  });

  it("reads the text column by name, else the first column", () => {
    expect(textsFromCsv("id,Text\n1,great\n2,\n3,awful")).toEqual(["great", "awful"]);
    expect(textsFromCsv("great\nawful\n")).toEqual(["great", "awful"]);
  });
});

describe("runBatch", () => {
  const texts = Array.from({ length: 7 }, (_, i) => `t${i}`);

  it("sends chunks in order and reports progress after each", async () => {
    const sent: string[][] = [];
    const progress: string[] = [];
    const results: string[] = [];
    await runBatch(
      texts,
      async (chunk) => {
        sent.push(chunk);
        return chunk.map((text) => text.toUpperCase());
      },
      (chunk, p) => {
        results.push(...chunk);
        progress.push(`${p.done}/${p.total}`);
      },
      new AbortController().signal,
      3,
    );
    expect(sent).toEqual([["t0", "t1", "t2"], ["t3", "t4", "t5"], ["t6"]]);
    expect(progress).toEqual(["3/7", "6/7", "7/7"]);
    expect(results).toEqual(texts.map((t) => t.toUpperCase()));
  });

  it("stops when cancelled and when a chunk is refused", async () => {
    const controller = new AbortController();
    let calls = 0;
    await runBatch(
      texts,
      async (chunk) => {
        calls++;
        controller.abort();
        return chunk;
      },
      () => undefined,
      controller.signal,
      3,
    );
    expect(calls).toBe(1);

    await expect(
      runBatch(texts, async () => [], () => undefined, new AbortController().signal, 3),
    ).rejects.toThrow("0 results for 3 texts");
  });
});
