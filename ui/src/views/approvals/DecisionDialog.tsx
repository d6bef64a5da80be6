import Button from "@mui/material/Button";
import Dialog from "@mui/material/Dialog";
import DialogActions from "@mui/material/DialogActions";
import DialogContent from "@mui/material/DialogContent";
import DialogContentText from "@mui/material/DialogContentText";
import DialogTitle from "@mui/material/DialogTitle";
import TextField from "@mui/material/TextField";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { type Schemas, unwrap } from "../../api/client";
import { useT } from "../../i18n/useT";
import { useApi } from "../../services";
import { ErrorState } from "../../shell/states";
import { shortHash } from "./common";

type Approval = Schemas["ApprovalOut"];
// approvals/schemas.DecisionIn.comment
export const MAX_REASON = 2000;

/** Approve or reject one request with a reason; the decision carries the plan hash the approver
 * saw, so the API refuses it if the plan changed meanwhile. */
export function DecisionDialog({
  approval,
  decision,
  onClose,
}: {
  approval: Approval;
  decision: "approve" | "reject";
  onClose: () => void;
}) {
  const t = useT();
  const api = useApi();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const decide = useMutation({
    mutationFn: async () => {
      const options = {
        params: { path: { approval_id: approval.id } },
        body: { plan_hash: approval.plan_hash, comment: reason.trim() },
      };
      return unwrap(
        decision === "approve"
          ? await api.POST("/api/v1/approvals/{approval_id}/approve", options)
          : await api.POST("/api/v1/approvals/{approval_id}/reject", options),
      );
    },
    onSuccess: async () => {
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: ["approvals"] }),
        queryClient.invalidateQueries({ queryKey: ["plans"] }),
      ]);
      onClose();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (reason.trim()) decide.mutate();
  };
  const titleId = `decision-${approval.id}`;
  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} fullWidth maxWidth="sm">
      <form onSubmit={submit}>
        <DialogTitle id={titleId}>
          {t(decision === "approve" ? "approvals.approveTitle" : "approvals.rejectTitle", {
            tool: approval.tool,
            step: approval.step_index + 1,
          })}
        </DialogTitle>
        <DialogContent>
          <DialogContentText sx={{ mb: 2 }}>
            {t("approvals.boundTo", { hash: shortHash(approval.plan_hash) })}
          </DialogContentText>
          <TextField
            autoFocus
            fullWidth
            required
            multiline
            minRows={2}
            label={t("approvals.reason")}
            value={reason}
            onChange={(event) => setReason(event.target.value)}
            slotProps={{ htmlInput: { maxLength: MAX_REASON } }}
          />
          {decide.isError ? <ErrorState error={decide.error} /> : null}
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>{t("approvals.cancel")}</Button>
          <Button
            type="submit"
            variant="contained"
            color={decision === "approve" ? "success" : "error"}
            disabled={!reason.trim() || decide.isPending}
          >
            {t(decision === "approve" ? "approvals.confirmApprove" : "approvals.confirmReject")}
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
