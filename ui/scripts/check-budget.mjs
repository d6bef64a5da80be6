// @ts-check
/**
 * Budgets of the built UI (run after `npm run build`; scripts/test does):
 * - the JavaScript a first visit loads (index.html's scripts and module preloads) is at most
 *   250 kB gzipped;
 * - index.html has no inline script (the API's CSP would refuse it) and no inline handler;
 * - each view is its own chunk (route-level code splitting), outside that first load.
 * Prints the sizes; exits 1 when a budget is exceeded.
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const INITIAL_JS_BUDGET = 250_000; // bytes, gzip
// The views each route loads on demand (src/App.tsx).
const LAZY_VIEWS = [
  "src/views/playground/PlaygroundPage.tsx",
  "src/views/approvals/ApprovalsPage.tsx",
  "src/views/approvals/PlansPage.tsx",
  "src/views/approvals/PlanDetailPage.tsx",
];

const ui = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = process.argv[2] ? resolve(process.argv[2]) : join(ui, "dist");
const html = readFileSync(join(dist, "index.html"), "utf-8");
/** @type {Record<string, {file: string, isEntry?: boolean, isDynamicEntry?: boolean, imports?: string[]}>} */
const manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf-8"));
/** @type {string[]} */
const failures = [];

for (const match of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
  const [, attributes = "", body = ""] = match;
  if (!/\bsrc=/.test(attributes) || body.trim() !== "") failures.push(`inline script in index.html: ${match[0].slice(0, 80)}`);
}
if (/\son[a-z]+\s*=/i.test(html)) failures.push("inline event handler attribute in index.html");

// What the first visit loads: the entry and the chunks it imports statically.
const entry = Object.values(manifest).find((chunk) => chunk.isEntry);
if (!entry) throw new Error("the manifest has no entry chunk");
/** @type {Set<string>} */
const initial = new Set();
/** @param {{file: string, imports?: string[]}} chunk */
const visit = (chunk) => {
  if (initial.has(chunk.file)) return;
  initial.add(chunk.file);
  for (const key of chunk.imports ?? []) {
    const imported = manifest[key];
    if (imported) visit(imported);
  }
};
visit(entry);
// index.html must name no other script than those (a plugin could add one).
for (const match of html.matchAll(/(?:src|href)="\/([^"]+\.js)"/g)) {
  if (match[1] && !initial.has(match[1])) failures.push(`index.html loads ${match[1]}, not part of the entry`);
}
let initialGzip = 0;
for (const file of initial) initialGzip += gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;

for (const view of LAZY_VIEWS) {
  const chunk = manifest[view];
  if (!chunk?.isDynamicEntry) failures.push(`${view} is not a lazily loaded chunk`);
  else if (initial.has(chunk.file)) failures.push(`${view} is part of the first load`);
}
if (initialGzip > INITIAL_JS_BUDGET) {
  failures.push(`initial JavaScript ${initialGzip} B gzip > budget ${INITIAL_JS_BUDGET} B`);
}

console.log(
  JSON.stringify({ initial_js_gzip_bytes: initialGzip, budget_bytes: INITIAL_JS_BUDGET, initial_chunks: [...initial], lazy_views: LAZY_VIEWS.length }),
);
if (failures.length > 0) {
  console.error(failures.map((f) => `FAIL ${f}`).join("\n"));
  process.exit(1);
}
