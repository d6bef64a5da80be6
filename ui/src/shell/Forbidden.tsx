import Alert from "@mui/material/Alert";
import type { Role } from "../api/client";
import { useT } from "../i18n/useT";

export function Forbidden({ roles }: { roles: readonly Role[] }) {
  const t = useT();
  return (
    <Alert severity="warning" role="alert">
      {t("guard.forbidden", { roles: roles.join(", ") })}
    </Alert>
  );
}
