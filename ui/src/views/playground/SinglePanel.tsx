import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Checkbox from "@mui/material/Checkbox";
import FormControlLabel from "@mui/material/FormControlLabel";
import Stack from "@mui/material/Stack";
import TextField from "@mui/material/TextField";
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { unwrap } from "../../api/client";
import { useT } from "../../i18n/useT";
import { useApi } from "../../services";
import { ErrorState, Loading } from "../../shell/states";
import { PredictionCard } from "./PredictionCard";

// The API's default MAX_TEXT_CHARS; a server configured lower answers 422, shown as an error.
export const MAX_TEXT_CHARS = 20_000;

/** One text, scored for sentiment and sarcasm together (POST /api/v1/analyze). */
export function SinglePanel() {
  const t = useT();
  const api = useApi();
  const [text, setText] = useState("");
  const [explain, setExplain] = useState(true);
  const analyze = useMutation({
    mutationFn: async (variables: { text: string; explain: boolean }) =>
      unwrap(await api.POST("/api/v1/analyze", { body: variables })),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim()) analyze.mutate({ text, explain });
  };
  const analysis = analyze.data?.predictions[0];
  return (
    <Box>
      <Box component="form" onSubmit={submit} sx={{ display: "grid", gap: 2, mb: 3 }}>
        <TextField
          label={t("playground.text")}
          multiline
          minRows={3}
          maxRows={12}
          value={text}
          onChange={(event) => setText(event.target.value)}
          slotProps={{ htmlInput: { maxLength: MAX_TEXT_CHARS } }}
          helperText={t("playground.chars", { count: text.length, max: MAX_TEXT_CHARS })}
        />
        <Stack sx={{ alignItems: "center" }} direction="row" spacing={2}>
          <Button type="submit" variant="contained" disabled={!text.trim() || analyze.isPending}>
            {t("playground.score")}
          </Button>
          <FormControlLabel
            control={<Checkbox checked={explain} onChange={(e) => setExplain(e.target.checked)} />}
            label={t("playground.explain")}
          />
        </Stack>
      </Box>
      {analyze.isPending ? <Loading label={t("playground.scoring")} /> : null}
      {analyze.isError ? <ErrorState error={analyze.error} onRetry={() => analyze.variables && analyze.mutate(analyze.variables)} /> : null}
      {analysis && !analyze.isPending ? (
        <Box sx={{ display: "grid", gap: 2, gridTemplateColumns: { md: "1fr 1fr" } }}>
          <PredictionCard title="playground.sentiment" prediction={analysis.sentiment} />
          <PredictionCard title="playground.sarcasm" prediction={analysis.sarcasm} />
        </Box>
      ) : null}
    </Box>
  );
}
