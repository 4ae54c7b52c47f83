import { describe, expect, it } from "vitest";
import { parse, YAMLParseError } from "yaml";
import { yamlSyntaxProblem } from "./yamlErrors";

function problemOf(text: string): string {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof YAMLParseError)
      return yamlSyntaxProblem(text, error, ["voice-edge:jwtSecret"]);
    throw error;
  }
  throw new Error("the YAML parsed");
}

describe("yamlSyntaxProblem: the line the mistake is on", () => {
  it.each([
    [
      "a key without its colon",
      "config:\n  voice-edge:accountId 0000\n  voice-edge:workerName: x\n",
      "line 2: Implicit keys need to be on a single line — voice-edge:accountId 0000",
    ],
    [
      "an item indented one column off",
      "config:\n  voice-edge:zone:\n    id: 1\n   name: x\n",
      "line 4: All mapping items must start at the same column — name: x",
    ],
    [
      "a tab",
      "config:\n\tvoice-edge:workerName: x\n",
      "line 2: Tabs are not allowed as indentation — voice-edge:workerName: x",
    ],
    [
      "a quote never closed (yaml notices it at the end)",
      'config:\n  voice-edge:workerName: "abc\n  voice-edge:publicHostname: x\n',
      'line 2: Missing closing "quote — voice-edge:workerName: "abc',
    ],
    [
      "a flow map never closed (yaml notices it on the next key)",
      "config:\n  voice-edge:edge: {auth: {mode: off}\n  voice-edge:workerName: x\n",
      "line 2: Flow map in block collection must be sufficiently indented and end with a } — voice-edge:edge: {auth: {mode: off}",
    ],
    [
      "a key written twice",
      "config:\n  voice-edge:workerName: a\n  voice-edge:workerName: b\n",
      "line 3: Map keys must be unique — voice-edge:workerName: b",
    ],
    [
      "a secret's quote never closed: its key, never its value",
      'config:\n  voice-edge:jwtSecret: "s3cr3t-value\n  voice-edge:workerName: x\n',
      'line 2: Missing closing "quote — voice-edge:jwtSecret: … (a secret: its value is not shown)',
    ],
  ])("%s", (_, text, expected) => {
    expect(problemOf(text)).toBe(expected);
  });
});
