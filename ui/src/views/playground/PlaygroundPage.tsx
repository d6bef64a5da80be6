import Box from "@mui/material/Box";
import Tab from "@mui/material/Tab";
import Tabs from "@mui/material/Tabs";
import Typography from "@mui/material/Typography";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { unwrap } from "../../api/client";
import { useT } from "../../i18n/useT";
import { useApi } from "../../services";
import { BatchPanel } from "./BatchPanel";
import { describeModel } from "./PredictionCard";
import { SinglePanel } from "./SinglePanel";

/** Score text for sentiment and sarcasm: one text with explanations, or a batch. */
export default function PlaygroundPage() {
  const t = useT();
  const api = useApi();
  const [mode, setMode] = useState<"single" | "batch">("single");
  const models = useQuery({
    queryKey: ["scoring-models"],
    queryFn: async () => unwrap(await api.GET("/api/v1/models")),
  });
  return (
    <Box>
      <Typography variant="h4" component="h1" gutterBottom>
        {t("playground.title")}
      </Typography>
      <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }} aria-live="polite">
        {models.data
          ? models.data.models.length > 0
            ? t("playground.serving", { models: models.data.models.map(describeModel).join(", ") })
            : t("playground.noModels")
          : models.isError
            ? t("playground.modelsUnknown")
            : t("state.loading")}
      </Typography>
      <Tabs value={mode} onChange={(_, value: "single" | "batch") => setMode(value)} sx={{ mb: 2 }}>
        <Tab value="single" label={t("playground.single")} />
        <Tab value="batch" label={t("playground.batch")} />
      </Tabs>
      {mode === "single" ? <SinglePanel /> : <BatchPanel />}
    </Box>
  );
}
