import type { YAMLError } from "yaml";

/** The line a mistake is on (1-based), where `yaml` reports where it noticed it instead. */
function lineOfMistake(text: string, error: YAMLError, reportedLine: number): number {
  const lines = text.split("\n").slice(0, reportedLine);
  const quote =
    error.code === "MISSING_CHAR" ? error.message.match(/closing (["'])quote/)?.[1] : undefined;
  if (quote) {
    // An unclosed quote is noticed where the text ends: the mistake is the first line whose value
    // opens with that quote and does not close it (later lines are inside the quoted text).
    const opensUnclosed = (line: string) => {
      const value =
        /^\s*(?:-\s+)?(?:[^\s#"'](?:[^:]|:(?!\s))*:\s+|"[^"]*":\s+|'[^']*':\s+)?(["'])(.*)$/.exec(
          line,
        );
      if (!value || value[1] !== quote) return false;
      const rest = value[2];
      return quote === '"' ? !/(?<!\\)"/.test(rest) : !/'(?!')/.test(rest.replace(/''/g, ""));
    };
    const opening = lines.findIndex(opensUnclosed);
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

/**
 * The stack key (`voice-edge:zone`, a child of `config:`) whose block holds `line`: a key, never
 * a value — this file holds secrets, and a fragment of one can look like a nested key.
 */
function stackKeyAt(lines: readonly string[], line: number): string | undefined {
  for (let i = line - 1; i >= 0; i--) {
    const key = /^ {2}(?:"([^"]+)"|'([^']+)'|([^\s#"'](?:[^:\s]|:(?!\s|$))*)):(?:\s|$)/.exec(
      lines[i] ?? "",
    );
    if (key) return key[1] ?? key[2] ?? key[3];
    if (/^\S/.test(lines[i] ?? "")) return undefined;
  }
  return undefined;
}

/**
 * A YAML syntax error as one problem of a stack file: the line the mistake is on, yaml's own words
 * without its position, and the stack key whose block it is in — never a value.
 */
export function yamlSyntaxProblem(text: string, error: YAMLError): string {
  const reported = error.linePos?.[0].line ?? 1;
  const line = lineOfMistake(text, error, reported);
  const words = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  const key = stackKeyAt(text.split("\n"), line);
  return `line ${line}: ${words}${key ? ` (in ${key})` : ""}`;
}
