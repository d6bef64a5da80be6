import Box from "@mui/material/Box";
import Link from "@mui/material/Link";
import MenuItem from "@mui/material/MenuItem";
import Stack from "@mui/material/Stack";
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableContainer from "@mui/material/TableContainer";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link as RouterLink } from "react-router-dom";
import { unwrap } from "../../api/client";
import { useT } from "../../i18n/useT";
import { useApi } from "../../services";
import { Empty, ErrorState, Loading } from "../../shell/states";
import { POLL_MS, StatusChip, useFormatTime, useStatusLabel } from "./common";

// plans-list's limit bounds (1..200).
const PLAN_LIMIT = 100;
// core/vocabulary.PlanStatus, plus "all" (no filter).
const FILTERS = [
  "all",
  "running",
  "waiting_approval",
  "completed",
  "failed",
  "gate_failed",
  "denied",
  "rejected",
  "expired",
  "cancelled",
] as const;
type Filter = (typeof FILTERS)[number];

/** The tenant's plans, newest first, with their live status. */
export default function PlansPage() {
  const t = useT();
  const api = useApi();
  const formatTime = useFormatTime();
  const statusLabel = useStatusLabel();
  const [filter, setFilter] = useState<Filter>("all");
  const plans = useQuery({
    queryKey: ["plans", "list", filter],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/plans", {
          params: { query: filter === "all" ? { limit: PLAN_LIMIT } : { limit: PLAN_LIMIT, status: filter } },
        }),
      ),
    refetchInterval: POLL_MS,
  });
  return (
    <Box>
      <Stack direction="row" sx={{ mb: 2, alignItems: "center", justifyContent: "space-between" }}>
        <Typography variant="h4" component="h1">
          {t("plans.title")}
        </Typography>
        <TextField
          select
          size="small"
          label={t("approvals.filter")}
          value={filter}
          onChange={(event) => setFilter(event.target.value as Filter)}
          sx={{ minWidth: 200 }}
        >
          {FILTERS.map((value) => (
            <MenuItem key={value} value={value}>
              {value === "all" ? t("approvals.all") : statusLabel(value)}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      {plans.isPending ? <Loading label={t("plans.loading")} /> : null}
      {plans.isError ? <ErrorState error={plans.error} onRetry={() => plans.refetch()} /> : null}
      {plans.data && plans.data.length === 0 ? <Empty title={t("plans.empty")}>{t("plans.emptyHelp")}</Empty> : null}
      {plans.data && plans.data.length > 0 ? (
        <TableContainer>
          <Table size="small" aria-label={t("plans.title")}>
            <TableHead>
              <TableRow>
                <TableCell>{t("plans.col.plan")}</TableCell>
                <TableCell>{t("plans.col.status")}</TableCell>
                <TableCell>{t("plans.col.tools")}</TableCell>
                <TableCell>{t("plans.col.proposer")}</TableCell>
                <TableCell>{t("plans.col.created")}</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {plans.data.map((plan) => (
                <TableRow key={plan.id}>
                  <TableCell>
                    <Link component={RouterLink} to={`/plans/${encodeURIComponent(plan.id)}`}>
                      {plan.rationale || plan.id}
                    </Link>
                    <Typography variant="caption" component="div" color="text.secondary">
                      {plan.id}
                    </Typography>
                  </TableCell>
                  <TableCell>
                    <StatusChip status={plan.status} />
                    {plan.message ? (
                      <Typography variant="caption" component="div">
                        {plan.message}
                      </Typography>
                    ) : null}
                  </TableCell>
                  <TableCell>{plan.tools.join(" → ")}</TableCell>
                  <TableCell>{plan.proposer}</TableCell>
                  <TableCell>{formatTime(plan.created_at)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      ) : null}
    </Box>
  );
}
