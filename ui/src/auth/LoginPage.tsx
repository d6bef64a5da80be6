import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Paper from "@mui/material/Paper";
import Tab from "@mui/material/Tab";
import Tabs from "@mui/material/Tabs";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { type FormEvent, useState } from "react";
import { Navigate, useSearchParams } from "react-router-dom";
import { ApiError } from "../api/client";
import { useT } from "../i18n/useT";
import { useServices, useSessionState } from "../services";
import type { LoginCredential } from "./session";

// Bounds on what the form sends (the API bounds them again).
const MAX_FIELD = 512;

/** Only a path of this site may be the page to return to (no `//evil.example` redirect). */
export function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

/** Sign in with a service account's client credentials or an API key (installs without OIDC). */
export function LoginPage() {
  const t = useT();
  const { session } = useServices();
  const state = useSessionState();
  const [params] = useSearchParams();
  const [method, setMethod] = useState<"client" | "apiKey">("client");
  const [clientId, setClientId] = useState("");
  const [clientSecret, setClientSecret] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  if (state.status === "signedIn") return <Navigate to={safeNext(params.get("next"))} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const credential: LoginCredential =
      method === "client"
        ? { kind: "client", clientId: clientId.trim(), clientSecret }
        : { kind: "apiKey", apiKey: apiKey.trim() };
    setBusy(true);
    setError(null);
    try {
      await session.signIn(credential);
    } catch (caught) {
      setError(
        caught instanceof ApiError && (caught.status === 401 || caught.status === 400)
          ? t("login.refused")
          : t("login.failed", { detail: caught instanceof Error ? caught.message : String(caught) }),
      );
    } finally {
      setBusy(false);
    }
  };

  const reason = state.reason;
  return (
    <Box component="main" sx={{ display: "grid", placeItems: "center", minHeight: "100vh", p: 2 }}>
      <Paper sx={{ p: 4, width: "100%", maxWidth: 440 }} elevation={3}>
        <Typography variant="h5" component="h1" gutterBottom>
          {t("login.title")}
        </Typography>
        {reason === "expired" || reason === "refreshFailed" ? (
          <Alert severity="info" sx={{ mb: 2 }}>
            {t(reason === "expired" ? "login.expired" : "login.refreshFailed")}
          </Alert>
        ) : null}
        <Tabs
          value={method}
          onChange={(_, value: "client" | "apiKey") => setMethod(value)}
          aria-label={t("login.method")}
          sx={{ mb: 2 }}
        >
          <Tab value="client" label={t("login.clientTab")} />
          <Tab value="apiKey" label={t("login.apiKeyTab")} />
        </Tabs>
        <Box component="form" onSubmit={submit} sx={{ display: "grid", gap: 2 }}>
          {method === "client" ? (
            <>
              <TextField
                label={t("login.clientId")}
                value={clientId}
                onChange={(e) => setClientId(e.target.value)}
                required
                autoComplete="username"
                slotProps={{ htmlInput: { maxLength: MAX_FIELD } }}
              />
              <TextField
                label={t("login.clientSecret")}
                type="password"
                value={clientSecret}
                onChange={(e) => setClientSecret(e.target.value)}
                required
                autoComplete="current-password"
                slotProps={{ htmlInput: { maxLength: MAX_FIELD } }}
              />
            </>
          ) : (
            <TextField
              label={t("login.apiKey")}
              type="password"
              value={apiKey}
              onChange={(e) => setApiKey(e.target.value)}
              required
              autoComplete="off"
              slotProps={{ htmlInput: { maxLength: MAX_FIELD } }}
            />
          )}
          {error ? (
            <Alert severity="error" role="alert">
              {error}
            </Alert>
          ) : null}
          <Button type="submit" variant="contained" disabled={busy}>
            {busy ? t("login.signingIn") : t("login.submit")}
          </Button>
          <Typography variant="body2" color="text.secondary">
            {t("login.memoryOnly")}
          </Typography>
        </Box>
      </Paper>
    </Box>
  );
}
