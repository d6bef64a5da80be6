import Box from "@mui/material/Box";
import Stack from "@mui/material/Stack";
import Typography from "@mui/material/Typography";
import { alpha, useTheme } from "@mui/material/styles";
import type { Schemas } from "../../api/client";
import { useT } from "../../i18n/useT";

type TokenWeight = Schemas["TokenWeight"];

// Blue and orange stay distinguishable for the common colour-vision deficiencies; the underline
// style and the text list below carry the same information without colour.
const SUPPORT = "#1f77b4";
const AGAINST = "#e6750f";

/** How strongly a token is coloured: its weight relative to the largest absolute weight. */
export function intensity(weight: number, maxAbs: number): number {
  return maxAbs > 0 ? Math.min(1, Math.abs(weight) / maxAbs) : 0;
}

export function formatWeight(weight: number): string {
  return `${weight >= 0 ? "+" : "−"}${Math.abs(weight).toFixed(3)}`;
}

/** Tokens coloured by their contribution to the predicted label, a legend, and the strongest
 * contributions as text. Weights are the share of the predicted label's score (the API's
 * `explanation`: positive supports the label, negative speaks against it). */
export function TokenHighlights({ tokens, label }: { tokens: readonly TokenWeight[]; label: string }) {
  const t = useT();
  const theme = useTheme();
  const maxAbs = Math.max(0, ...tokens.map((token) => Math.abs(token.weight)));
  const strongest = [...tokens].sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight)).slice(0, 5);
  return (
    <Box>
      <Stack direction="row" spacing={3} sx={{ mb: 1 }} aria-label={t("explain.legend")} role="group">
        <LegendSwatch color={SUPPORT} dashed={false} text={t("explain.supports", { label })} />
        <LegendSwatch color={AGAINST} dashed text={t("explain.against", { label })} />
      </Stack>
      <Box sx={{ lineHeight: 2.2 }} data-testid="token-highlights">
        {tokens.map((token, index) => {
          const supports = token.weight >= 0;
          const strength = intensity(token.weight, maxAbs);
          const color = supports ? SUPPORT : AGAINST;
          const direction = supports ? t("explain.supportsShort") : t("explain.againstShort");
          return (
            <Box
              component="span"
              key={`${index}-${token.token}`}
              data-weight={token.weight}
              title={`${formatWeight(token.weight)} (${direction})`}
              aria-label={`${token.token}: ${formatWeight(token.weight)}, ${direction}`}
              sx={{
                px: 0.5,
                mr: 0.5,
                borderRadius: 0.5,
                bgcolor: alpha(color, 0.15 + 0.6 * strength),
                color: theme.palette.text.primary,
                textDecoration: "underline",
                textDecorationStyle: supports ? "solid" : "dashed",
                textDecorationColor: color,
                textDecorationThickness: strength > 0.5 ? 3 : 1,
                textUnderlineOffset: 4,
              }}
            >
              {token.token}
            </Box>
          );
        })}
      </Box>
      <Typography variant="subtitle2" component="h3" sx={{ mt: 1 }}>
        {t("explain.strongest")}
      </Typography>
      <Box component="ol" sx={{ m: 0, pl: 3 }}>
        {strongest.map((token, index) => (
          <li key={`${index}-${token.token}`}>
            {token.token} {formatWeight(token.weight)} (
            {token.weight >= 0 ? t("explain.supportsShort") : t("explain.againstShort")})
          </li>
        ))}
      </Box>
    </Box>
  );
}

function LegendSwatch({ color, dashed, text }: { color: string; dashed: boolean; text: string }) {
  return (
    <Stack sx={{ alignItems: "center" }} direction="row" spacing={1}>
      <Box
        aria-hidden
        sx={{
          width: 28,
          height: 14,
          bgcolor: alpha(color, 0.5),
          borderBottom: `3px ${dashed ? "dashed" : "solid"} ${color}`,
        }}
      />
      <Typography variant="body2">{text}</Typography>
    </Stack>
  );
}
