/** One JSON object per line on the Worker's log. Callers pass only values safe to keep: no tokens, secrets or query strings. */
export type LogFields = Record<string, string | number | boolean | null | undefined | object>;

export function logEvent(event: string, fields: LogFields): void {
  console.log(JSON.stringify({ event, ...fields }));
}
