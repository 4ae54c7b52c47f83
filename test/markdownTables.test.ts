import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../infra/config/stackFiles";

const DOCS = [
  "README.md",
  ...readdirSync(join(PROJECT_ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
  "bench/README.md",
  "soak/README.md",
];

const isRow = (line: string) => line.trimStart().startsWith("|");
const isSeparator = (line: string) => /^\s*\|(\s*:?-{3,}:?\s*\|)+\s*$/.test(line);

/**
 * Table rows that belong to no table: a run of `|` lines that does not start with a header and
 * its separator (rows stranded under a list or a paragraph render as plain text), outside code.
 */
function strandedRows(text: string): number[] {
  const lines = text.split("\n");
  const stranded: number[] = [];
  let inCode = false;
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*```/.test(lines[i])) inCode = !inCode;
    if (inCode || !isRow(lines[i]) || (i > 0 && isRow(lines[i - 1]))) continue;
    if (!isSeparator(lines[i + 1] ?? "")) stranded.push(i + 1);
  }
  return stranded;
}

describe("markdown tables", () => {
  it("finds a row stranded under a list", () => {
    const table = "| a | b |\n| --- | --- |\n| 1 | 2 |\n";
    expect(strandedRows(table)).toEqual([]);
    expect(strandedRows(`${table}\n1. a step\n| 3 | 4 |\n| 5 | 6 |\n`)).toEqual([6]);
  });

  it.each(DOCS)("%s has no table row outside a table", (file) => {
    expect(strandedRows(readFileSync(join(PROJECT_ROOT, file), "utf8"))).toEqual([]);
  });
});
