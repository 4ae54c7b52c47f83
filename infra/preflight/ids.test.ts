import { describe, expect, it } from "vitest";
import { loadStackSettings } from "../config/stackFiles";
import { placeholderIdProblems } from "./ids";

const staging = loadStackSettings("staging");
const ID = "023e105f4ecef8ad9ca31a8372d0c353";

describe("placeholder IDs in a stack file", () => {
  it("names each key still holding the zeros the example stack files ship", () => {
    expect(placeholderIdProblems(staging, "staging").map((r) => r.message)).toEqual([
      "voice-edge:accountId in Pulumi.staging.yaml is still the placeholder 00000000000000000000000000000000: no request was sent with it",
      "voice-edge:zone → id in Pulumi.staging.yaml is still the placeholder 00000000000000000000000000000000: no request was sent with it",
    ]);
  });

  it("names only the one left when the other is set", () => {
    const results = placeholderIdProblems({ ...staging, accountId: ID }, "staging");
    expect(results).toEqual([
      {
        check: "ids",
        status: "problem",
        message: expect.stringMatching(/^voice-edge:zone → id in Pulumi\.staging\.yaml/) as string,
        action:
          "put your zone's ID there (dashboard → mycosoft.com → Overview, the API section: Zone ID)",
      },
    ]);
  });

  it("passes real IDs", () => {
    expect(
      placeholderIdProblems(
        { ...staging, accountId: ID, zone: { ...staging.zone, id: ID } },
        "staging",
      ),
    ).toEqual([]);
  });
});
