import Alert from "@mui/material/Alert";
import Card from "@mui/material/Card";
import CardContent from "@mui/material/CardContent";
import Chip from "@mui/material/Chip";
import LinearProgress from "@mui/material/LinearProgress";
import Stack from "@mui/material/Stack";
import Typography from "@mui/material/Typography";
import type { Schemas } from "../../api/client";
import type { MessageId } from "../../i18n/catalogues";
import { useT } from "../../i18n/useT";
import { TokenHighlights } from "./TokenHighlights";

type Prediction = Schemas["Prediction"];

export function percent(probability: number): string {
  return `${(probability * 100).toFixed(1)} %`;
}

/** "name v3 (production)", plus the routed component where the version routes. */
export function describeModel(model: Schemas["ModelRef"]): string {
  const route = model.route && model.route !== "main" ? `, ${model.route}` : "";
  const language = model.language ? `, ${model.language}` : "";
  return `${model.name} v${model.version} (${model.alias}${route}${language})`;
}

/** One task's answer: label, probability of every label, the model that answered, highlights. */
export function PredictionCard({ title, prediction }: { title: MessageId; prediction: Prediction }) {
  const t = useT();
  const titleId = `prediction-${title}`;
  return (
    <Card variant="outlined" component="section" aria-labelledby={titleId}>
      <CardContent>
        <Typography variant="overline" component="h2" id={titleId}>
          {t(title)}
        </Typography>
        <Typography variant="h5" component="p" data-testid={`${title}-label`}>
          {prediction.label} · {percent(prediction.probability)}
        </Typography>
        <Stack spacing={0.5} sx={{ my: 1 }}>
          {Object.entries(prediction.scores).map(([label, probability]) => (
            <Stack sx={{ alignItems: "center" }} key={label} direction="row" spacing={1}>
              <Typography variant="body2" sx={{ width: 110 }}>
                {label}
              </Typography>
              <LinearProgress
                variant="determinate"
                value={probability * 100}
                sx={{ flexGrow: 1, height: 8, borderRadius: 4 }}
                aria-label={`${label} ${percent(probability)}`}
              />
              <Typography variant="body2" sx={{ width: 64, textAlign: "right" }}>
                {percent(probability)}
              </Typography>
            </Stack>
          ))}
        </Stack>
        <Stack direction="row" spacing={1} sx={{ mb: 1, alignItems: "center" }}>
          <Typography variant="body2">{t("playground.answeredBy")}</Typography>
          <Chip size="small" label={describeModel(prediction.model)} data-testid={`${title}-model`} />
        </Stack>
        {prediction.in_domain === false ? (
          <Alert severity="warning" sx={{ mb: 1 }}>
            {t("playground.outOfDomain")}
          </Alert>
        ) : null}
        {prediction.explanation ? (
          <TokenHighlights tokens={prediction.explanation} label={prediction.label} />
        ) : null}
      </CardContent>
    </Card>
  );
}
