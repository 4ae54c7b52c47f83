// The stack program: reads and validates the stack's config, then declares one VoiceEdge.
import { buildWorkerBundle } from "../worker/build";
import { lineScriptName } from "../worker/src/line/contract";
import { loadStackConfig } from "./config/load";
import { lineProgramInputs } from "./lineInputs";
import { cloudflareProvider } from "./provider";
import { VoiceEdge, type VoiceEdgeLineArgs } from "./voiceEdge";

const { settings, secrets, apiToken } = loadStackConfig();
const bundle = await buildWorkerBundle();

/** With the line on: its bundle, and the line script's live migration tag, read before anything is declared. */
async function lineArgs(): Promise<VoiceEdgeLineArgs | undefined> {
  if (!settings.line.enabled) return undefined;
  const token = apiToken && (await new Promise<string>((resolve) => apiToken.apply(resolve)));
  const inputs = lineProgramInputs(token);
  const [lineBundle, liveScript] = await Promise.all([
    inputs.bundle(),
    inputs.liveScript(settings.accountId, lineScriptName(settings.workerName)),
  ]);
  return { bundle: lineBundle, liveScript };
}

const line = await lineArgs();
const edge = new VoiceEdge(
  "voice-edge",
  { settings, secrets, bundle, ...(line && { line }) },
  { providers: [cloudflareProvider(apiToken)] },
);

export const publicWsUrl = edge.publicWsUrl;
export const healthUrl = edge.healthUrl;
export const clientKitUrl = edge.clientKitUrl;
export const websiteOrigin = edge.websiteOrigin;
export const workerName = edge.workerName;
export const bundleSha256 = edge.bundleSha256;
export const bundleSizeBytes = edge.bundleSizeBytes;
export const originHostname = edge.originHostname;
export const tunnelId = edge.tunnelId;
export const connectorToken = edge.connectorToken;
export const bridges = edge.bridges;
export const bridgeConnectorTokens = edge.bridgeConnectorTokens;
