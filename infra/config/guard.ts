import { bridgesOf, servicesOf, type FleetSettings } from "./bridges";
import { z } from "zod";
import { lineSettingsSchema } from "../../worker/src/line/contract";
import { isVoiceFileName, STOCK_VOICES, VOICE_FILE_NAME_EXAMPLE } from "../../worker/src/voices";
import type { Problem } from "./errors";

/** A voice file name as PersonaPlex's `voice_prompt` names it, e.g. NATF0.pt (one line of HAProxy's pattern file). */
export const voiceName = z
  .string()
  .refine(
    isVoiceFileName,
    `must be a voice file name such as ${VOICE_FILE_NAME_EXAMPLE}, never a path`,
  );

const absolutePath = z
  .string()
  .regex(/^\/[^\s'"]*$/, "must be an absolute path on the VM without spaces or quotes");

/**
 * The guard on each GPU VM: HAProxy between cloudflared and the PersonaPlex server, configured
 * from these settings by `npm run guard -- --print-config --stack <name>`.
 */
export const guardSchema = z.strictObject({
  /** Where the guard listens on the VM's loopback; cloudflared's ingress points at http://localhost:<listenPort>. */
  listenPort: z.int().min(1).max(65535).default(8999),
  /** The PersonaPlex server on the same VM: https when it runs with `--ssl` (its default port is 8998). */
  upstream: z
    .url({
      protocol: /^https?$/,
      error: "must be an http:// or https:// URL such as https://127.0.0.1:8998",
    })
    .refine((value) => new URL(value).pathname === "/" && !new URL(value).search, {
      message: "must be scheme, host and port only, e.g. https://127.0.0.1:8998",
    })
    .default("https://127.0.0.1:8998"),
  /** The server's own certificate (or its CA), which an https upstream is verified against. */
  upstreamCaFile: absolutePath.default("/etc/haproxy/personaplex-cert.pem"),
  /** Reach an https upstream without verifying its certificate (`ssl verify none`). */
  upstreamInsecure: z.boolean().default(false),
  /** Sessions at once; the real server runs one conversation at a time. */
  capacity: z.int().min(1).max(64).default(1),
  /** Seconds a refused client is told to wait (Retry-After and retryAfterS). */
  retryAfterS: z.int().min(1).max(3600).default(5),
  /** The server's voice files; a `voice_prompt` outside the list is refused. Default: the stock client's 18. */
  voices: z
    .array(voiceName)
    .min(1)
    .default(() => [...STOCK_VOICES]),
  /**
   * The server's voice directory on the VM (its `--voice-prompt-dir`): when set, the guard's list
   * is rebuilt from the `*.pt` files there each time HAProxy starts, instead of from `voices`.
   */
  voicesDir: absolutePath.optional(),
  /**
   * The longest a session may last (1–1440 minutes, the line's own range): the guard ends it then,
   * frames or not. Absent: only the 10-minute idle timeout ends a session. With the line on, the
   * guard takes `line.maxSessionMinutes` instead (`guardSessionCap`).
   */
  maxSessionMinutes: lineSettingsSchema.shape.maxSessionMinutes,
});

export type GuardSettings = z.infer<typeof guardSchema>;

/** The guard's default port: cloudflared's default ingress (`tunnel.bridgeService`) points at it. */
export const GUARD_DEFAULT_PORT = 8999;

/** What the guard's rule across keys reads of a stack. */
export interface GuardRuleInput {
  guard: { listenPort: number };
  tunnel?: { bridgeService: string };
  bridges?: { service: string }[];
}

/**
 * A guard moved off its default port is meant to be behind the tunnel: cloudflared's service on
 * the VM's loopback must then be that port, or the tunnel reaches past the guard (or nothing).
 */
export function validateGuardBehindTunnel(settings: GuardRuleInput): Problem[] {
  const { listenPort } = settings.guard;
  if (listenPort === GUARD_DEFAULT_PORT) return [];
  return servicesOf(settings).flatMap(({ path, service: value }) => {
    const service = new URL(value);
    const loopback = service.hostname === "localhost" || service.hostname === "127.0.0.1";
    const port = Number(service.port || (service.protocol === "https:" ? 443 : 80));
    if (service.protocol !== "http:" || !loopback || port === listenPort) return [];
    return [
      {
        path,
        message: `is ${value} but guard.listenPort is ${listenPort}: point it at the guard (http://localhost:${listenPort}), or leave guard.listenPort at ${GUARD_DEFAULT_PORT}`,
      },
    ];
  });
}

/**
 * The guard settings of one bridge's VM, or why `bridgeName` does not pick one: the stack's
 * `guard`, with a listed bridge's own `capacity` and the stack's session cap (`guardSessionCap`).
 * The `tunnel` form has one bridge and no selector.
 */
export function guardOfBridge(
  stack: string,
  settings: FleetSettings & SessionCapInput & { guard: GuardSettings },
  bridgeName: string | undefined,
): { guard: GuardSettings } | { problem: string } {
  const bridges = bridgesOf(settings);
  const names = bridges.map((bridge) => bridge.name).join(", ");
  const guard = { ...settings.guard, maxSessionMinutes: guardSessionCap(settings) };
  if (settings.bridges === undefined)
    return bridgeName === undefined
      ? { guard }
      : {
          problem: `--bridge ${bridgeName}: stack "${stack}" has one bridge (voice-edge:tunnel): leave --bridge out`,
        };
  if (bridgeName === undefined)
    return {
      problem: `stack "${stack}" lists bridges (${names}): pass --bridge <name> for the VM the files are for`,
    };
  const bridge = bridges.find((candidate) => candidate.name === bridgeName);
  if (!bridge)
    return {
      problem: `--bridge ${bridgeName}: stack "${stack}" has no such bridge; its bridges are ${names}`,
    };
  return { guard: { ...guard, capacity: bridge.capacity } };
}

/**
 * With a `bridges` list each bridge's guard admits its own `capacity`: a stack-wide
 * `guard.capacity` other than the default would be ignored without a word, so it is refused.
 */
export function validateGuardCapacityWithBridges(settings: {
  guard: { capacity: number };
  bridges?: unknown[];
}): Problem[] {
  if (settings.bridges === undefined || settings.guard.capacity === 1) return [];
  return [
    {
      path: ["guard", "capacity"],
      message: `is ${settings.guard.capacity}, but with voice-edge:bridges each bridge's guard admits that bridge's own capacity: set voice-edge:bridges → <n>.capacity instead, and remove guard.capacity`,
    },
  ];
}

/** What the session cap's rule reads of a stack: the guard's cap, and the line's when the stack has one. */
export interface SessionCapInput {
  guard: { maxSessionMinutes?: number };
  line?: { enabled?: boolean; maxSessionMinutes?: number };
}

/**
 * The cap the guards enforce: the line's `maxSessionMinutes` when set (the line tells it to each
 * page in its turn), else the guard's own. `validateGuardSessionCap` keeps the two from disagreeing.
 */
export function guardSessionCap(settings: SessionCapInput): number | undefined {
  return settings.line?.maxSessionMinutes ?? settings.guard.maxSessionMinutes;
}

/**
 * One cap, written once: a `guard.maxSessionMinutes` beside a line that has its own (or that is on,
 * and would tell pages no limit) must be that same number, or the page would be told one length and
 * cut at another.
 */
export function validateGuardSessionCap(settings: SessionCapInput): Problem[] {
  const guard = settings.guard.maxSessionMinutes;
  const line = settings.line?.maxSessionMinutes;
  if (guard === undefined || guard === line) return [];
  if (line === undefined && !settings.line?.enabled) return [];
  return [
    {
      path: ["guard", "maxSessionMinutes"],
      message:
        line === undefined
          ? `is ${guard} but the line is on and voice-edge:line.maxSessionMinutes is not set: set line.maxSessionMinutes: ${guard} (the guards take it, and each page is told it with its turn) and remove guard.maxSessionMinutes`
          : `is ${guard} but voice-edge:line.maxSessionMinutes is ${line}: the guards enforce the line's; remove guard.maxSessionMinutes`,
    },
  ];
}
