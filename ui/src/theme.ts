import { createTheme, type Theme } from "@mui/material/styles";
import type { ThemeMode } from "./uiStore";

/** The one theme, in its light and dark forms. */
export function makeTheme(mode: ThemeMode): Theme {
  return createTheme({
    palette: {
      mode,
      primary: { main: mode === "light" ? "#1f5fa8" : "#8bb8f0" },
      secondary: { main: mode === "light" ? "#8a4b00" : "#f0b46e" },
    },
    shape: { borderRadius: 6 },
    typography: {
      // System fonts: the CSP allows no third-party origin, and nothing is downloaded.
      fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    },
  });
}
