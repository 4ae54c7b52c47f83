// The stack program: reads and validates the stack's config, then declares one VoiceEdge.
import { buildWorkerBundle } from "../worker/build";
import { loadStackConfig } from "./config/load";
import { cloudflareProvider } from "./provider";
import { VoiceEdge } from "./voiceEdge";

const { settings, secrets, apiToken } = loadStackConfig();
const bundle = await buildWorkerBundle();
const edge = new VoiceEdge(
  "voice-edge",
  { settings, secrets, bundle },
  { providers: [cloudflareProvider(apiToken)] },
);

export const publicWsUrl = edge.publicWsUrl;
export const healthUrl = edge.healthUrl;
export const websiteOrigin = edge.websiteOrigin;
export const workerName = edge.workerName;
export const bundleSha256 = edge.bundleSha256;
export const bundleSizeBytes = edge.bundleSizeBytes;
export const originHostname = edge.originHostname;
export const tunnelId = edge.tunnelId;
export const connectorToken = edge.connectorToken;
export const bridges = edge.bridges;
export const bridgeConnectorTokens = edge.bridgeConnectorTokens;
