/** Batch scoring in the browser: splitting a pasted list or CSV into texts, and sending them in
 * chunks the API accepts, reporting progress after each. */

// Texts per request: under the API's default MAX_BATCH_TEXTS (256), small enough that the
// progress bar moves and one refused chunk costs little.
export const CHUNK_SIZE = 64;
// What one batch run may hold; a larger paste is refused before anything is sent.
export const MAX_BATCH_TEXTS = 10_000;

/** One text per non-blank line. */
export function textsFromList(pasted: string): string[] {
  return pasted
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** RFC 4180 CSV: quoted fields may hold commas, newlines and doubled quotes. */
export function parseCsv(source: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source; // byte-order mark
  while (i < text.length) {
    const char = text[i];
    if (quoted) {
      if (char === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += char;
      }
      i += 1;
      continue;
    }
    if (char === '"' && field.length === 0) {
      quoted = true;
    } else if (char === ",") {
      row.push(field);
      field = "";
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && text[i + 1] === "\n") i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else {
      field += char;
    }
    i += 1;
  }
  if (field.length > 0 || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((cell) => cell.trim().length > 0));
}

/** The texts of a CSV: the column named `text` when the header has one, else the first column
 * (a first row that is a header is then recognised by that name only). */
export function textsFromCsv(source: string): string[] {
  const rows = parseCsv(source);
  const header = rows[0]?.map((cell) => cell.trim().toLowerCase()) ?? [];
  const column = header.indexOf("text");
  const body = column >= 0 ? rows.slice(1) : rows;
  const index = Math.max(column, 0);
  return body.map((r) => (r[index] ?? "").trim()).filter((cell) => cell.length > 0);
}

export interface BatchProgress {
  done: number;
  total: number;
}

/** Scores `texts` chunk by chunk, in order; stops at the first refused chunk (its error is
 * thrown with the results so far kept by the caller through `onChunk`). */
export async function runBatch<R>(
  texts: readonly string[],
  scoreChunk: (chunk: string[]) => Promise<R[]>,
  onChunk: (results: R[], progress: BatchProgress) => void,
  signal: AbortSignal,
  chunkSize: number = CHUNK_SIZE,
): Promise<void> {
  for (let start = 0; start < texts.length; start += chunkSize) {
    if (signal.aborted) return;
    const chunk = texts.slice(start, start + chunkSize);
    const results = await scoreChunk(chunk);
    if (results.length !== chunk.length) {
      throw new Error(`the API answered ${results.length} results for ${chunk.length} texts`);
    }
    if (signal.aborted) return;
    onChunk(results, { done: start + chunk.length, total: texts.length });
  }
}
