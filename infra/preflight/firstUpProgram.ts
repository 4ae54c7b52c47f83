// The stack program (infra/index.ts) with a stand-in for the Worker's bundle (and the line's, on a
// first up): what the next `pulumi up` declares, for the list of writes the token check shows. Run
// only under the offline run's mocks; it builds nothing, reads no account and writes nothing.
import { createHash } from "node:crypto";
import { loadStackConfig } from "../config/load";
import { cloudflareProvider } from "../provider";
import { VoiceEdge } from "../voiceEdge";

const code = "// the Worker's bundle is not built for preflight's list of writes\n";
const { settings, secrets, apiToken } = loadStackConfig();
const bundle = {
  code,
  sizeBytes: Buffer.byteLength(code),
  sha256: createHash("sha256").update(code).digest("hex"),
  path: "",
};
const edge = new VoiceEdge(
  "voice-edge",
  {
    settings,
    secrets,
    bundle,
    ...(settings.line.enabled && { line: { bundle, liveScript: { exists: false } } }),
  },
  { providers: [cloudflareProvider(apiToken)] },
);

export const workerName = edge.workerName;
