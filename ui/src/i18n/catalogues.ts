import de from "./de.json";
import en from "./en.json";

/** Every visible string's id; English is the complete catalogue the others are checked against. */
export type MessageId = keyof typeof en;
export type Catalogue = Record<MessageId, string>;

export const LOCALES = ["en", "de"] as const;
export type Locale = (typeof LOCALES)[number];

// Typed as complete catalogues: a message missing from German fails the type check.
export const catalogues: Record<Locale, Catalogue> = { en, de };

/** The first supported language among the browser's preferences, else English. */
export function pickLocale(preferred: readonly string[]): Locale {
  for (const tag of preferred) {
    const language = tag.toLowerCase().split("-")[0];
    const match = LOCALES.find((locale) => locale === language);
    if (match) return match;
  }
  return "en";
}
