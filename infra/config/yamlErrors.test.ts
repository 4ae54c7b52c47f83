import { describe, expect, it } from "vitest";
import { parse, YAMLParseError } from "yaml";
import { yamlSyntaxProblem } from "./yamlErrors";

function problemOf(text: string): string {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof YAMLParseError) return yamlSyntaxProblem(text, error);
    throw error;
  }
  throw new Error("the YAML parsed");
}

describe("yamlSyntaxProblem: the line the mistake is on, and the stack key around it", () => {
  it.each([
    [
      "a key without its colon",
      "config:\n  voice-edge:accountId 0000\n  voice-edge:workerName: x\n",
      "line 2: Implicit keys need to be on a single line",
    ],
    [
      "an item indented one column off",
      "config:\n  voice-edge:zone:\n    id: 1\n   name: x\n",
      "line 4: All mapping items must start at the same column (in voice-edge:zone)",
    ],
    [
      "a tab",
      "config:\n\tvoice-edge:workerName: x\n",
      "line 2: Tabs are not allowed as indentation",
    ],
    [
      "a quote never closed (yaml notices it at the end)",
      'config:\n  voice-edge:workerName: "abc\n  voice-edge:publicHostname: x\n',
      'line 2: Missing closing "quote (in voice-edge:workerName)',
    ],
    [
      "a quote never closed, after a comment and a value with an apostrophe",
      "config:\n  # don't edit by hand\n  voice-edge:workerName: mycosoft's-edge\n  voice-edge:publicHostname: \"abc\n  voice-edge:zone:\n    id: x\n",
      'line 4: Missing closing "quote (in voice-edge:publicHostname)',
    ],
    [
      "a flow map never closed (yaml notices it on the next key)",
      "config:\n  voice-edge:edge: {auth: {mode: off}\n  voice-edge:workerName: x\n",
      "line 2: Flow map in block collection must be sufficiently indented and end with a } (in voice-edge:edge)",
    ],
    [
      "a key written twice",
      "config:\n  voice-edge:workerName: a\n  voice-edge:workerName: b\n",
      "line 3: Map keys must be unique (in voice-edge:workerName)",
    ],
  ])("%s", (_, text, expected) => {
    expect(problemOf(text)).toBe(expected);
  });

  it.each([
    [
      "a secret's quote never closed",
      'config:\n  voice-edge:jwtSecret: "s3cr3t-value\n  voice-edge:workerName: x\n',
    ],
    [
      "a quoted secret key",
      'config:\n  "voice-edge:jwtSecret": "s3cr3t-value\n  voice-edge:x: y\n',
    ],
    [
      "a quote inside a secret's block value",
      'config:\n  voice-edge:jwtSecret: >\n    s3cr3t"value: more\n  voice-edge:x: "abc\n',
    ],
  ])("never shows a value: %s", (_, text) => {
    const problem = problemOf(text);
    expect(problem).toMatch(/^line \d+: /);
    expect(problem).not.toMatch(/s3cr3t|value: more/);
  });
});
