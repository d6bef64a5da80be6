import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Card from "@mui/material/Card";
import CardActions from "@mui/material/CardActions";
import CardContent from "@mui/material/CardContent";
import Link from "@mui/material/Link";
import MenuItem from "@mui/material/MenuItem";
import Stack from "@mui/material/Stack";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link as RouterLink } from "react-router-dom";
import { type Schemas, unwrap } from "../../api/client";
import { IfRoles } from "../../auth/guards";
import { useT } from "../../i18n/useT";
import { useApi } from "../../services";
import { ROLES } from "../../shell/nav";
import { Empty, ErrorState, Loading } from "../../shell/states";
import { DecisionDialog } from "./DecisionDialog";
import { JsonBlock, POLL_MS, StatusChip, shortHash, useFormatTime, useStatusLabel } from "./common";

type Approval = Schemas["ApprovalOut"];
// approvals/service.STATUSES, plus "all" (no filter).
const FILTERS = ["pending", "approved", "rejected", "expired", "superseded", "cancelled", "all"] as const;
type Filter = (typeof FILTERS)[number];

/** What waits for a human decision (and, filtered, what was decided). */
export default function ApprovalsPage() {
  const t = useT();
  const api = useApi();
  const statusLabel = useStatusLabel();
  const [filter, setFilter] = useState<Filter>("pending");
  const [deciding, setDeciding] = useState<{ approval: Approval; decision: "approve" | "reject" } | null>(
    null,
  );
  const approvals = useQuery({
    queryKey: ["approvals", filter],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/approvals", {
          params: { query: filter === "all" ? {} : { status: filter } },
        }),
      ),
    refetchInterval: POLL_MS,
  });

  return (
    <Box>
      <Stack direction="row" sx={{ mb: 2, alignItems: "center", justifyContent: "space-between" }}>
        <Typography variant="h4" component="h1">
          {t("approvals.title")}
        </Typography>
        <TextField
          select
          size="small"
          label={t("approvals.filter")}
          value={filter}
          onChange={(event) => setFilter(event.target.value as Filter)}
          sx={{ minWidth: 180 }}
        >
          {FILTERS.map((value) => (
            <MenuItem key={value} value={value}>
              {value === "all" ? t("approvals.all") : statusLabel(value)}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      {approvals.isPending ? <Loading label={t("approvals.loading")} /> : null}
      {approvals.isError ? <ErrorState error={approvals.error} onRetry={() => approvals.refetch()} /> : null}
      {approvals.data && approvals.data.length === 0 ? (
        <Empty title={t(filter === "pending" ? "approvals.emptyPending" : "approvals.empty")} />
      ) : null}
      <Stack spacing={2}>
        {approvals.data?.map((approval) => (
          <ApprovalCard
            key={approval.id}
            approval={approval}
            onDecide={(decision) => setDeciding({ approval, decision })}
          />
        ))}
      </Stack>
      {deciding ? (
        <DecisionDialog
          approval={deciding.approval}
          decision={deciding.decision}
          onClose={() => setDeciding(null)}
        />
      ) : null}
    </Box>
  );
}

function ApprovalCard({
  approval,
  onDecide,
}: {
  approval: Approval;
  onDecide: (decision: "approve" | "reject") => void;
}) {
  const t = useT();
  const formatTime = useFormatTime();
  const headingId = `approval-${approval.id}`;
  return (
    <Card variant="outlined" component="article" aria-labelledby={headingId}>
      <CardContent>
        <Stack direction="row" spacing={1} sx={{ mb: 1, alignItems: "center" }}>
          <Typography variant="h6" component="h2" id={headingId}>
            {t("approvals.step", { step: approval.step_index + 1, tool: approval.tool })}
          </Typography>
          <StatusChip status={approval.status} />
        </Stack>
        <Typography sx={{ mb: 1 }}>{approval.rationale || t("approvals.noRationale")}</Typography>
        <Box component="dl" sx={{ display: "grid", gridTemplateColumns: "max-content 1fr", columnGap: 2, rowGap: 0.5, m: 0 }}>
          <dt>{t("approvals.requester")}</dt>
          <dd>
            {approval.requester} ({approval.requester_kind})
            {approval.requested_by ? ` · ${t("approvals.requestedBy", { name: approval.requested_by })}` : ""}
          </dd>
          <dt>{t("approvals.why")}</dt>
          <dd>{approval.reasons.length > 0 ? approval.reasons.join("; ") : "—"}</dd>
          <dt>{t("approvals.requiredRole")}</dt>
          <dd>{approval.required_role}</dd>
          <dt>{t("approvals.planHash")}</dt>
          <dd>
            <code title={approval.plan_hash}>{shortHash(approval.plan_hash)}</code>
          </dd>
          <dt>{t("approvals.created")}</dt>
          <dd>{formatTime(approval.created_at)}</dd>
          <dt>{t("approvals.expires")}</dt>
          <dd>{formatTime(approval.expires_at)}</dd>
          {approval.decided_by ? (
            <>
              <dt>{t("approvals.decidedBy")}</dt>
              <dd>
                {approval.decided_by} · {formatTime(approval.decided_at)}
                {approval.comment ? ` · “${approval.comment}”` : ""}
              </dd>
            </>
          ) : null}
        </Box>
        <Typography variant="subtitle2" component="h3" sx={{ mt: 1 }}>
          {t("approvals.params")}
        </Typography>
        <JsonBlock value={approval.params} label={t("approvals.params")} />
      </CardContent>
      <CardActions sx={{ flexWrap: "wrap", gap: 1 }}>
        <Link component={RouterLink} to={`/plans/${encodeURIComponent(approval.workflow_id)}`}>
          {t("approvals.openPlan")}
        </Link>
        {approval.workflow_url ? (
          <Link href={approval.workflow_url} target="_blank" rel="noopener noreferrer">
            {t("approvals.temporal")}
          </Link>
        ) : null}
        {approval.status === "pending" ? (
          <IfRoles anyOf={ROLES.decideApprovals}>
            <Box sx={{ flexGrow: 1 }} />
            <Button variant="contained" color="success" onClick={() => onDecide("approve")}>
              {t("approvals.approve")}
            </Button>
            <Button variant="outlined" color="error" onClick={() => onDecide("reject")}>
              {t("approvals.reject")}
            </Button>
          </IfRoles>
        ) : null}
      </CardActions>
    </Card>
  );
}
