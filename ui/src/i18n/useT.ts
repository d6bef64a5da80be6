import { useCallback } from "react";
import { useIntl } from "react-intl";
import type { MessageId } from "./catalogues";

export type MessageValues = Record<string, string | number | Date>;
export type Translate = (id: MessageId, values?: MessageValues) => string;

/** `t("id", values)`: a message of the active catalogue, checked against the ids at compile time. */
export function useT(): Translate {
  const intl = useIntl();
  return useCallback((id, values) => intl.formatMessage({ id }, values), [intl]);
}
