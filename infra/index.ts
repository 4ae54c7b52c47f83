import { buildWorkerBundle } from "../worker/build";
import { WS_PATH, HEALTH_PATH } from "../worker/src/routes";
import { alerts } from "./alerts";
import { bridgeWatchDatabase, bridgeWatchSchedule } from "./bridgeWatch";
import { loadStackConfig } from "./config/load";
import { serviceRecords } from "./dns";
import { originLock } from "./originLock";
import { cloudflareProvider } from "./provider";
import { rateLimitRuleset } from "./rateLimit";
import { bridgeTunnel } from "./tunnel";
import { edgeWorker } from "./worker";
import { zoneSettings } from "./zoneSettings";

const { settings, secrets, apiToken } = loadStackConfig();
const bundle = await buildWorkerBundle();

const opts = { provider: cloudflareProvider(apiToken) };
zoneSettings(settings, opts);
rateLimitRuleset(settings, opts);
const lock = originLock(settings, opts);
const originGuard = [lock.application, lock.policy];
const bridge = bridgeTunnel(settings, secrets, originGuard, opts);
serviceRecords(settings, bridge.tunnel.id, originGuard, opts);
const watchState = bridgeWatchDatabase(settings, opts);
const worker = edgeWorker(settings, secrets, bundle, lock, watchState, opts);
bridgeWatchSchedule(settings, worker.script, opts);
alerts(settings, secrets, { tunnelId: bridge.tunnel.id, serviceTokenId: lock.serviceToken.id }, opts);

/** The website's NEXT_PUBLIC_PERSONAPLEX_WS_URL. */
export const publicWsUrl = `wss://${settings.publicHostname}${WS_PATH}`;
export const healthUrl = `https://${settings.publicHostname}${HEALTH_PATH}`;
/** The first allowed page origin: what a browser on the website sends, and what the smoke test sends. */
export const websiteOrigin = settings.edge.allowedOrigins[0] ?? null;
export const workerName = worker.script.scriptName;
export const bundleSha256 = bundle.sha256;
export const bundleSizeBytes = bundle.sizeBytes;
export const originHostname = settings.tunnel.originHostname;
export const tunnelId = bridge.tunnel.id;
export const connectorToken = bridge.connectorToken;
