import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import CircularProgress from "@mui/material/CircularProgress";
import Typography from "@mui/material/Typography";
import type { ReactNode } from "react";
import { ApiError } from "../api/client";
import { useT } from "../i18n/useT";

/** The loading, error and empty states every view shows the same way. */
export function Loading({ label }: { label: string }) {
  return (
    <Box sx={{ display: "flex", alignItems: "center", gap: 2, py: 4 }} role="status" aria-live="polite">
      <CircularProgress size={24} aria-hidden />
      <Typography>{label}</Typography>
    </Box>
  );
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const t = useT();
  const detail = error instanceof Error ? error.message : String(error);
  const requestId = error instanceof ApiError ? error.requestId : null;
  return (
    <Alert
      severity="error"
      role="alert"
      action={
        onRetry ? (
          <Button color="inherit" size="small" onClick={onRetry}>
            {t("state.retry")}
          </Button>
        ) : undefined
      }
    >
      {t("state.error", { detail })}
      {requestId ? ` (${t("state.requestId", { id: requestId })})` : null}
    </Alert>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <Box sx={{ py: 6, textAlign: "center" }}>
      <Typography variant="h6" component="p">
        {title}
      </Typography>
      {children ? <Typography color="text.secondary">{children}</Typography> : null}
    </Box>
  );
}
