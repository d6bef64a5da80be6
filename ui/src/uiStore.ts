import { create } from "zustand";
import { type Locale, pickLocale } from "./i18n/catalogues";

export type ThemeMode = "light" | "dark";

/** UI preferences only; server data lives in TanStack Query's cache, never here. */
interface UiState {
  mode: ThemeMode;
  locale: Locale;
  toggleMode: () => void;
  setLocale: (locale: Locale) => void;
}

function initialMode(): ThemeMode {
  const query = typeof window !== "undefined" && window.matchMedia?.("(prefers-color-scheme: dark)");
  return query && query.matches ? "dark" : "light";
}

export const useUiStore = create<UiState>()((set) => ({
  mode: initialMode(),
  locale: pickLocale(typeof navigator !== "undefined" ? navigator.languages : []),
  toggleMode: () => set((state) => ({ mode: state.mode === "light" ? "dark" : "light" })),
  setLocale: (locale) => set({ locale }),
}));
