import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import LinearProgress from "@mui/material/LinearProgress";
import Stack from "@mui/material/Stack";
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableContainer from "@mui/material/TableContainer";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { type ChangeEvent, useEffect, useRef, useState } from "react";
import { type Schemas, unwrap } from "../../api/client";
import { useT } from "../../i18n/useT";
import { useApi } from "../../services";
import { ErrorState } from "../../shell/states";
import { type BatchProgress, MAX_BATCH_TEXTS, runBatch, textsFromCsv, textsFromList } from "./batch";
import { describeModel, percent } from "./PredictionCard";

type Analysis = Schemas["Analysis"];
// A CSV larger than this is refused before it is read (the batch limit is 10,000 texts anyway).
export const MAX_CSV_BYTES = 10 * 1024 * 1024;
// Rows rendered in the table; the download holds every result.
const SHOWN_ROWS = 200;

interface Row {
  text: string;
  analysis: Analysis;
}

function csvCell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** The results as CSV, for the download link. */
export function resultsCsv(rows: readonly Row[]): string {
  const header = "text,sentiment,sentiment_probability,sarcasm,sarcasm_probability,sentiment_model,sarcasm_model";
  const lines = rows.map(({ text, analysis: { sentiment, sarcasm } }) =>
    [
      csvCell(text),
      sentiment.label,
      sentiment.probability.toFixed(4),
      sarcasm.label,
      sarcasm.probability.toFixed(4),
      csvCell(describeModel(sentiment.model)),
      csvCell(describeModel(sarcasm.model)),
    ].join(","),
  );
  return [header, ...lines].join("\n") + "\n";
}

/** Many texts at once, from a pasted list or a CSV file, scored in chunks with a progress bar. */
export function BatchPanel() {
  const t = useT();
  const api = useApi();
  const [pasted, setPasted] = useState("");
  const [fromFile, setFromFile] = useState<{ name: string; texts: string[] } | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [rows, setRows] = useState<Row[]>([]);
  const [progress, setProgress] = useState<BatchProgress | null>(null);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const abort = useRef<AbortController | null>(null);
  const [download, setDownload] = useState<string | null>(null);

  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => () => {
    if (download) URL.revokeObjectURL(download);
  }, [download]);

  const texts = fromFile ? fromFile.texts : textsFromList(pasted);
  const tooMany = texts.length > MAX_BATCH_TEXTS;

  const onFile = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = ""; // the same file may be chosen again after editing it
    if (!file) return;
    setFileError(null);
    if (file.size > MAX_CSV_BYTES) {
      setFileError(t("batch.fileTooLarge", { max: MAX_CSV_BYTES / 1024 / 1024 }));
      return;
    }
    setFromFile({ name: file.name, texts: textsFromCsv(await file.text()) });
  };

  const start = async () => {
    const controller = new AbortController();
    abort.current = controller;
    const collected: Row[] = [];
    setRows([]);
    setError(null);
    setDownload(null);
    setProgress({ done: 0, total: texts.length });
    setRunning(true);
    try {
      await runBatch(
        texts,
        async (chunk) =>
          unwrap(await api.POST("/api/v1/analyze", { body: { texts: chunk, explain: false }, signal: controller.signal }))
            .predictions,
        (results, next) => {
          const offset = collected.length;
          results.forEach((analysis, i) => collected.push({ text: texts[offset + i] ?? "", analysis }));
          setRows([...collected]);
          setProgress(next);
        },
        controller.signal,
      );
      if (!controller.signal.aborted && collected.length > 0) {
        setDownload(URL.createObjectURL(new Blob([resultsCsv(collected)], { type: "text/csv" })));
      }
    } catch (caught) {
      if (!controller.signal.aborted) setError(caught);
    } finally {
      setRunning(false);
    }
  };

  const percentDone = progress && progress.total > 0 ? (progress.done / progress.total) * 100 : 0;
  return (
    <Box sx={{ display: "grid", gap: 2 }}>
      <TextField
        label={t("batch.paste")}
        multiline
        minRows={4}
        maxRows={12}
        value={pasted}
        disabled={fromFile !== null || running}
        onChange={(event) => setPasted(event.target.value)}
        helperText={t("batch.pasteHelp")}
      />
      <Stack sx={{ alignItems: "center" }} direction="row" spacing={2}>
        <Button variant="outlined" component="label" disabled={running}>
          {t("batch.chooseCsv")}
          <input hidden type="file" accept=".csv,text/csv" onChange={onFile} />
        </Button>
        {fromFile ? (
          <>
            <Typography variant="body2">{t("batch.fromFile", { name: fromFile.name })}</Typography>
            <Button size="small" onClick={() => setFromFile(null)} disabled={running}>
              {t("batch.clearFile")}
            </Button>
          </>
        ) : (
          <Typography variant="body2" color="text.secondary">
            {t("batch.csvHelp")}
          </Typography>
        )}
      </Stack>
      {fileError ? <Alert severity="error">{fileError}</Alert> : null}
      {tooMany ? (
        <Alert severity="error">{t("batch.tooMany", { count: texts.length, max: MAX_BATCH_TEXTS })}</Alert>
      ) : null}
      <Stack sx={{ alignItems: "center" }} direction="row" spacing={2}>
        <Button variant="contained" onClick={start} disabled={running || texts.length === 0 || tooMany}>
          {t("batch.score", { count: texts.length })}
        </Button>
        {running ? (
          <Button onClick={() => abort.current?.abort()}>{t("batch.cancel")}</Button>
        ) : null}
        {download && !running ? (
          <Button component="a" href={download} download="sentimentops-scores.csv">
            {t("batch.download")}
          </Button>
        ) : null}
      </Stack>
      {progress ? (
        <Box>
          <LinearProgress
            variant="determinate"
            value={percentDone}
            aria-label={t("batch.progress")}
            aria-valuetext={t("batch.progressText", { done: progress.done, total: progress.total })}
          />
          <Typography variant="body2" role="status" aria-live="polite">
            {t("batch.progressText", { done: progress.done, total: progress.total })}
          </Typography>
        </Box>
      ) : null}
      {error ? <ErrorState error={error} onRetry={start} /> : null}
      {rows.length > 0 ? (
        <TableContainer>
          <Table size="small" aria-label={t("batch.results")}>
            <TableHead>
              <TableRow>
                <TableCell>{t("batch.col.text")}</TableCell>
                <TableCell>{t("playground.sentiment")}</TableCell>
                <TableCell>{t("playground.sarcasm")}</TableCell>
                <TableCell>{t("batch.col.model")}</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {rows.slice(0, SHOWN_ROWS).map((row, index) => (
                <TableRow key={index}>
                  <TableCell sx={{ maxWidth: 420, overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>
                    {row.text}
                  </TableCell>
                  <TableCell>
                    {row.analysis.sentiment.label} ({percent(row.analysis.sentiment.probability)})
                  </TableCell>
                  <TableCell>
                    {row.analysis.sarcasm.label} ({percent(row.analysis.sarcasm.probability)})
                  </TableCell>
                  <TableCell>{describeModel(row.analysis.sentiment.model)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          {rows.length > SHOWN_ROWS ? (
            <Typography variant="body2" sx={{ mt: 1 }}>
              {t("batch.truncated", { shown: SHOWN_ROWS, total: rows.length })}
            </Typography>
          ) : null}
        </TableContainer>
      ) : null}
    </Box>
  );
}
