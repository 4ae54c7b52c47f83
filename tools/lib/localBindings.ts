import { bridgeTargets, type EdgeSettings } from "../../worker/src/bindings";
import { LINE_BINDINGS, LINE_MIGRATIONS } from "../../worker/src/line/contract";
import { lineConfigOf } from "../../infra/config/line";
import type { StackSettings } from "../../infra/config/schema";

/** One bridge of a local fleet: its `BRIDGES` name and the URL the Worker upgrades to. */
export interface LocalBridge {
  name: string;
  url: string;
}

/** The edge's bridges: one `BRIDGE_URL` (a fleet of one, named `bridge`), or a `BRIDGES` fleet. */
export type LocalBridges = { url: string } | { fleet: LocalBridge[] };

export interface LocalBindings {
  bindings: Record<string, unknown>;
  /** What differs from the stack file, in words, for the operator. */
  overrides: string[];
}

/**
 * The stack's edge settings with what only makes sense locally: tokens signed with the local
 * development secret (HS256, no JWKS), the local page origins plus those of local websites
 * (`npm run dev -- --allow-origin http://localhost:3000`) and of the demo page, and clients without an Origin. A
 * fleet's health URLs are each guard's `/health`, so the stack's one `bridgeHealthUrl` is dropped.
 */
export function localEdgeBindings(
  config: StackSettings,
  options: {
    bridges: LocalBridges;
    port: number;
    devSecret: string;
    allowOrigins?: string[];
    /** The local demo page's origins (`npm run dev` serves it beside the edge). */
    demoOrigins?: string[];
  },
): LocalBindings {
  const overrides: string[] = [];
  const localOrigins = [
    ...new Set([
      `http://127.0.0.1:${options.port}`,
      `http://localhost:${options.port}`,
      ...(options.allowOrigins ?? []),
    ]),
  ];
  let auth: EdgeSettings["auth"] = config.edge.auth;
  if (auth.mode === "jwt") {
    if (auth.algorithms.join() !== "HS256" || auth.jwksUrl)
      overrides.push(
        `auth.algorithms ${auth.algorithms.join(",")} → HS256 with the local development secret`,
      );
    auth = { ...auth, algorithms: ["HS256"], jwksUrl: undefined };
  }
  overrides.push(`allowedOrigins += ${localOrigins.join(", ")}`);
  const demoOrigins = (options.demoOrigins ?? []).filter(
    (origin) => !localOrigins.includes(origin),
  );
  if (demoOrigins.length > 0)
    overrides.push(`allowedOrigins += ${demoOrigins.join(", ")} (the demo page)`);
  if (!config.edge.allowMissingOrigin)
    overrides.push("allowMissingOrigin false → true (command-line clients send no Origin)");
  const edge: EdgeSettings = {
    ...config.edge,
    auth,
    allowedOrigins: [...config.edge.allowedOrigins, ...localOrigins, ...demoOrigins],
    allowMissingOrigin: true,
  };
  if ("fleet" in options.bridges && edge.bridgeHealthUrl !== undefined) {
    overrides.push(
      `bridgeHealthUrl ${edge.bridgeHealthUrl} → none (each local bridge's health is /health on its origin)`,
    );
    edge.bridgeHealthUrl = undefined;
  }
  return {
    bindings: {
      ...("fleet" in options.bridges
        ? { BRIDGES: options.bridges.fleet.map(({ name, url }) => ({ name, url })) }
        : { BRIDGE_URL: options.bridges.url }),
      EDGE_CONFIG: JSON.parse(JSON.stringify(edge)),
      JWT_SECRET: options.devSecret,
    },
    overrides,
  };
}

/** The line script beside the local edge: its name, its bindings, and the edge's binding to its class. */
export interface LocalLine {
  scriptName: string;
  bindings: Record<string, unknown>;
  /** The edge Worker's `durable_object_namespace` binding, as Miniflare takes it. */
  coordinator: { name: string; className: string; scriptName: string; useSQLite: boolean };
}

/**
 * The line script's bindings as the Pulumi program builds them (`LINE_CONFIG` from the stack's
 * `voice-edge:line`, the fleet as `BRIDGES` with each bridge's health URL), with the local bridges
 * the edge has, read as the edge reads them; and the edge's binding to the coordinator, the
 * program's own `coordinatorBinding`. No Access service token: local bridges have no Access.
 */
export async function localLineBindings(
  config: StackSettings,
  edge: LocalBindings,
): Promise<LocalLine> {
  // The program's Worker module loads the Pulumi SDKs (about 1.5 s): only when the line is on.
  const { coordinatorBinding } = await import("../../infra/worker");
  const binding = coordinatorBinding(config) as {
    name: string;
    className: string;
    scriptName: string;
  };
  const { BRIDGE_URL, BRIDGES, EDGE_CONFIG } = edge.bindings as Parameters<typeof bridgeTargets>[0];
  return {
    scriptName: binding.scriptName,
    bindings: {
      [LINE_BINDINGS.settings]: lineConfigOf(config.line),
      BRIDGES: bridgeTargets({ BRIDGE_URL, BRIDGES, EDGE_CONFIG }),
    },
    coordinator: {
      name: binding.name,
      className: binding.className,
      scriptName: binding.scriptName,
      useSQLite: LINE_MIGRATIONS.some((migration) =>
        migration.newSqliteClasses?.includes(binding.className),
      ),
    },
  };
}
