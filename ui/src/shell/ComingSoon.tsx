import Alert from "@mui/material/Alert";
import Typography from "@mui/material/Typography";
import type { MessageId } from "../i18n/catalogues";
import { useT } from "../i18n/useT";

/** A view of issue 18 not built yet: says so instead of showing made-up data. */
export function ComingSoon({ title }: { title: MessageId }) {
  const t = useT();
  return (
    <>
      <Typography variant="h4" component="h1" gutterBottom>
        {t(title)}
      </Typography>
      <Alert severity="info">{t("soon.body")}</Alert>
    </>
  );
}
