import Box from "@mui/material/Box";
import Link from "@mui/material/Link";
import Stack from "@mui/material/Stack";
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableContainer from "@mui/material/TableContainer";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import Typography from "@mui/material/Typography";
import { useQuery } from "@tanstack/react-query";
import { Link as RouterLink, useParams } from "react-router-dom";
import { unwrap } from "../../api/client";
import { useT } from "../../i18n/useT";
import { useApi } from "../../services";
import { ErrorState, Loading } from "../../shell/states";
import { JsonBlock, POLL_MS, StatusChip, isFinal, shortHash, useFormatTime } from "./common";

/** One plan with each step's policy decision, approval and result, live until it ends. */
export default function PlanDetailPage() {
  const t = useT();
  const api = useApi();
  const formatTime = useFormatTime();
  const workflowId = useParams().workflowId ?? "";
  const detail = useQuery({
    queryKey: ["plans", "detail", workflowId],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/plans/{workflow_id}", { params: { path: { workflow_id: workflowId } } })),
    // A finished plan no longer changes: stop asking.
    refetchInterval: (query) => (query.state.data && isFinal(query.state.data.plan.status) ? false : POLL_MS),
  });
  return (
    <Box>
      <Link component={RouterLink} to="/plans">
        {t("plans.back")}
      </Link>
      {detail.isPending ? <Loading label={t("plans.loadingOne")} /> : null}
      {detail.isError ? <ErrorState error={detail.error} onRetry={() => detail.refetch()} /> : null}
      {detail.data ? (
        <>
          <Stack direction="row" spacing={1} sx={{ my: 2, alignItems: "center" }}>
            <Typography variant="h4" component="h1">
              {detail.data.plan.rationale || detail.data.plan.id}
            </Typography>
            <StatusChip status={detail.data.plan.status} />
          </Stack>
          <Box component="dl" sx={{ display: "grid", gridTemplateColumns: "max-content 1fr", columnGap: 2, rowGap: 0.5 }}>
            <dt>{t("plans.workflow")}</dt>
            <dd>
              <code>{detail.data.plan.id}</code>
              {detail.data.plan.workflow_url ? (
                <>
                  {" · "}
                  <Link href={detail.data.plan.workflow_url} target="_blank" rel="noopener noreferrer">
                    {t("approvals.temporal")}
                  </Link>
                </>
              ) : null}
            </dd>
            <dt>{t("approvals.planHash")}</dt>
            <dd>
              <code title={detail.data.plan.plan_hash}>{shortHash(detail.data.plan.plan_hash)}</code>
            </dd>
            <dt>{t("plans.col.proposer")}</dt>
            <dd>{detail.data.plan.proposer}</dd>
            <dt>{t("plans.col.created")}</dt>
            <dd>{formatTime(detail.data.plan.created_at)}</dd>
            <dt>{t("plans.finished")}</dt>
            <dd>{formatTime(detail.data.plan.finished_at)}</dd>
            {detail.data.plan.message ? (
              <>
                <dt>{t("plans.message")}</dt>
                <dd>{detail.data.plan.message}</dd>
              </>
            ) : null}
          </Box>
          <Typography variant="h6" component="h2" sx={{ mt: 2 }}>
            {t("plans.steps")}
          </Typography>
          {detail.data.progress === null ? (
            <Typography color="text.secondary">{t("plans.noProgress")}</Typography>
          ) : (
            <TableContainer>
              <Table size="small" aria-label={t("plans.steps")}>
                <TableHead>
                  <TableRow>
                    <TableCell>#</TableCell>
                    <TableCell>{t("plans.col.tool")}</TableCell>
                    <TableCell>{t("plans.col.status")}</TableCell>
                    <TableCell>{t("plans.col.policy")}</TableCell>
                    <TableCell>{t("plans.col.approval")}</TableCell>
                    <TableCell>{t("plans.col.result")}</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {detail.data.progress.steps.map((step) => (
                    <TableRow
                      key={step.index}
                      selected={detail.data.progress?.current_step === step.index}
                      aria-current={detail.data.progress?.current_step === step.index ? "step" : undefined}
                    >
                      <TableCell>{step.index + 1}</TableCell>
                      <TableCell>
                        {step.tool}
                        {step.fallback_of !== null && step.fallback_of !== undefined
                          ? ` (${t("plans.fallbackOf", { step: step.fallback_of + 1 })})`
                          : ""}
                      </TableCell>
                      <TableCell>
                        <StatusChip status={step.status ?? "pending"} />
                      </TableCell>
                      <TableCell>{step.policy_reasons?.length ? step.policy_reasons.join("; ") : "—"}</TableCell>
                      <TableCell>
                        {step.approved_by
                          ? t("plans.approvedBy", { name: step.approved_by })
                          : step.approval_id
                            ? t("plans.awaiting")
                            : "—"}
                      </TableCell>
                      <TableCell sx={{ maxWidth: 360 }}>
                        {step.error ? (
                          <Typography color="error" variant="body2">
                            {step.error}
                          </Typography>
                        ) : step.result ? (
                          <JsonBlock value={step.result} label={t("plans.col.result")} />
                        ) : (
                          "—"
                        )}
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
          )}
        </>
      ) : null}
    </Box>
  );
}
