/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` serves the UI with hot reload and forwards API calls to a running API
// (`sentimentops up` or `sentimentops api`; UI_DEV_API_URL overrides the address; not a
// SENTIMENTOPS_ name, which the API's settings would take for a misspelt setting).
const api = process.env.UI_DEV_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": { target: api, changeOrigin: false },
      "/healthz": api,
      "/readyz": api,
    },
  },
  build: {
    // The module-preload polyfill is bundled, never inlined: the API's CSP allows no inline script.
    modulePreload: { polyfill: true },
    sourcemap: false,
    // dist/.vite/manifest.json: scripts/check-budget.mjs reads which chunks a first visit loads.
    manifest: true,
    // The first load is budgeted by check:budget (250 kB gzip), not by Vite's warning.
    chunkSizeWarningLimit: 1000,
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    // Two cores shared with the Python suite: one worker keeps the machine responsive.
    maxWorkers: 1,
    // MUI renders are slow on a loaded shared machine; typing a sentence can take seconds.
    testTimeout: 30_000,
  },
});
