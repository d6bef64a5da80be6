import { createTheme, type Theme } from "@mui/material/styles";
import type { ThemeMode } from "./uiStore";

/** The one theme, in its light and dark forms. */
export function makeTheme(mode: ThemeMode): Theme {
  return createTheme({
    palette: {
      mode,
      primary: { main: mode === "light" ? "#1f5fa8" : "#8bb8f0" },
      secondary: { main: mode === "light" ? "#8a4b00" : "#f0b46e" },
      // MUI's light warning (#ed6c02, 3.1:1 on white) and info (#0288d1, 3.9:1) fail WCAG AA as
      // text, e.g. the outlined status chips (axe-core caught it in the e2e run): darker tones.
      ...(mode === "light" ? { warning: { main: "#b45309" }, info: { main: "#0270b0" } } : {}),
    },
    shape: { borderRadius: 6 },
    typography: {
      // System fonts: the CSP allows no third-party origin, and nothing is downloaded.
      fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    },
  });
}
