import type { YAMLError } from "yaml";

/** The line a mistake is on (1-based), where `yaml` reports where it noticed it instead. */
function lineOfMistake(text: string, error: YAMLError, reportedLine: number): number {
  const lines = text.split("\n").slice(0, reportedLine);
  const quote =
    error.code === "MISSING_CHAR" ? error.message.match(/closing (["'])quote/)?.[1] : undefined;
  if (quote) {
    // An unclosed quote is noticed where the text ends: the mistake is the line that opens it.
    const opening = lines.findIndex(
      (line) => (line.match(new RegExp(`(?<!\\\\)${quote}`, "g"))?.length ?? 0) % 2 === 1,
    );
    if (opening >= 0) return opening + 1;
  }
  const flow = /Flow (map|sequence)/.exec(error.message)?.[1];
  if (flow) {
    // An unclosed { or [ is noticed on the next key: the mistake is the last line that opens more than it closes.
    const [open, close] = flow === "map" ? ["{", "}"] : ["[", "]"];
    for (let i = lines.length - 1; i >= 0; i--) {
      const count = (c: string) => lines[i].split(c).length - 1;
      if (count(open) > count(close)) return i + 1;
    }
  }
  return reportedLine;
}

/** The line as a message may show it: a secret key's value (or an encrypted one) is left out. */
function shownLine(written: string, secretKeys: readonly string[]): string {
  const key = /^\s*-?\s*(\S+?):(?:\s|$)/.exec(written)?.[1];
  if ((key && secretKeys.includes(key)) || /secure\s*:/.test(written))
    return `${key ?? "a secret"}: … (a secret: its value is not shown)`;
  return written.length > 80 ? `${written.slice(0, 77)}…` : written;
}

/**
 * A YAML syntax error as one problem of a stack file: the line the mistake is on, yaml's own words
 * without its position, and that line as written — never a secret's value, never more of the file.
 */
export function yamlSyntaxProblem(
  text: string,
  error: YAMLError,
  secretKeys: readonly string[] = [],
): string {
  const reported = error.linePos?.[0].line ?? 1;
  const line = lineOfMistake(text, error, reported);
  const words = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  const written = (text.split("\n")[line - 1] ?? "").trim();
  return `line ${line}: ${words}${written ? ` — ${shownLine(written, secretKeys)}` : ""}`;
}
