import { describe, expect, it } from "vitest";
import { IntlMessageFormat } from "intl-messageformat";
import { catalogues, LOCALES, pickLocale } from "./catalogues";

// The ICU parser's element type of plain text (TYPE.literal): everything else names an argument.
const LITERAL = 0;

/** The argument names a message uses ({name}, {count, plural, …}). */
function argumentsOf(message: string, locale: string): string[] {
  const names = new Set<string>();
  const walk = (elements: ReturnType<IntlMessageFormat["getAst"]>) => {
    for (const element of elements) {
      if ("value" in element && typeof element.value === "string" && element.type !== LITERAL) names.add(element.value);
      if ("options" in element) {
        for (const option of Object.values(element.options)) walk(option.value);
      }
    }
  };
  walk(new IntlMessageFormat(message, locale).getAst());
  return [...names].sort();
}

describe("message catalogues", () => {
  const english = catalogues.en;

  it("finds the arguments of a message (the checks below rely on it)", () => {
    expect(argumentsOf("Hi {name}, {count, plural, one {# {thing}} other {#}}", "en")).toEqual([
      "count",
      "name",
      "thing",
    ]);
  });

  it.each(LOCALES.filter((l) => l !== "en"))("%s has exactly the English ids", (locale) => {
    expect(Object.keys(catalogues[locale]).sort()).toEqual(Object.keys(english).sort());
  });

  it.each(LOCALES)("every %s message parses and uses the English arguments", (locale) => {
    for (const [id, message] of Object.entries(catalogues[locale])) {
      const englishMessage = english[id as keyof typeof english];
      expect(argumentsOf(message, locale), id).toEqual(argumentsOf(englishMessage, "en"));
      expect(message.trim().length, id).toBeGreaterThan(0);
    }
  });

  it("German is a translation, not a copy", () => {
    const same = Object.entries(catalogues.de).filter(
      ([id, text]) => english[id as keyof typeof english] === text,
    );
    // A few words are the same in both languages (Status, Text, Playground, Workflow…).
    expect(same.length).toBeLessThan(Object.keys(english).length / 10);
  });

  it("picks the first supported browser language", () => {
    expect(pickLocale(["fr-FR", "de-AT", "en"])).toBe("de");
    expect(pickLocale(["en-GB"])).toBe("en");
    expect(pickLocale(["ja"])).toBe("en");
    expect(pickLocale([])).toBe("en");
  });
});
