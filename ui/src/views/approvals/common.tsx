import Box from "@mui/material/Box";
import Chip from "@mui/material/Chip";
import { useCallback } from "react";
import { useIntl } from "react-intl";
import { catalogues, type MessageId } from "../../i18n/catalogues";
import { useT } from "../../i18n/useT";

// How often the lists ask again while the page is open: approvals and plans move on their own
// (workflows run, requests expire), and polling needs nothing beyond the REST API.
export const POLL_MS = 3000;

// The statuses after which a plan no longer changes (core/vocabulary.FINAL_PLAN_STATUSES).
const FINAL = new Set(["completed", "denied", "rejected", "expired", "failed", "gate_failed", "cancelled"]);

export function isFinal(status: string): boolean {
  return FINAL.has(status);
}

type Colour = "default" | "primary" | "success" | "warning" | "error" | "info";

const COLOURS: Record<string, Colour> = {
  running: "info",
  checking: "info",
  waiting_timer: "info",
  waiting_approval: "warning",
  pending: "warning",
  completed: "success",
  succeeded: "success",
  approved: "success",
  denied: "error",
  rejected: "error",
  failed: "error",
  gate_failed: "error",
  expired: "default",
  superseded: "default",
  cancelled: "default",
  skipped: "default",
};

/** A status in words (translated where the catalogue knows it) with a colour; the words alone
 * carry the meaning. */
export function StatusChip({ status }: { status: string }) {
  const label = useStatusLabel();
  return <Chip size="small" label={label(status)} color={COLOURS[status] ?? "default"} variant="outlined" />;
}

/** A wire status in the reader's language; an unknown one (a newer server) as it is. */
export function useStatusLabel(): (status: string) => string {
  const t = useT();
  return useCallback(
    (status) => {
      const id = `status.${status}`;
      return id in catalogues.en ? t(id as MessageId) : status;
    },
    [t],
  );
}

export function useFormatTime(): (value: string | null | undefined) => string {
  const intl = useIntl();
  return useCallback(
    (value) => (value ? intl.formatDate(value, { dateStyle: "medium", timeStyle: "medium" }) : "—"),
    [intl],
  );
}

/** Parameters or results as indented JSON, bounded in height. */
export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  return (
    <Box
      component="pre"
      aria-label={label}
      tabIndex={0}
      sx={{
        m: 0,
        p: 1,
        maxHeight: 240,
        overflow: "auto",
        bgcolor: "action.hover",
        borderRadius: 1,
        fontSize: 13,
      }}
    >
      {JSON.stringify(value, null, 2)}
    </Box>
  );
}

export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}
