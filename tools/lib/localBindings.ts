import type { EdgeSettings } from "../../worker/src/bindings";
import type { StackSettings } from "../../infra/config/schema";

export interface LocalBindings {
  bindings: Record<string, unknown>;
  /** What differs from the stack file, in words, for the operator. */
  overrides: string[];
}

/**
 * The stack's edge settings with what only makes sense locally: tokens signed with the local
 * development secret (HS256, no JWKS), the local page origins plus those of local websites
 * (`npm run dev -- --allow-origin http://localhost:3000`), and clients without an Origin.
 */
export function localEdgeBindings(
  config: StackSettings,
  options: { bridgeUrl: string; port: number; devSecret: string; allowOrigins?: string[] },
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
  if (!config.edge.allowMissingOrigin)
    overrides.push("allowMissingOrigin false → true (command-line clients send no Origin)");
  const edge: EdgeSettings = {
    ...config.edge,
    auth,
    allowedOrigins: [...config.edge.allowedOrigins, ...localOrigins],
    allowMissingOrigin: true,
  };
  return {
    bindings: {
      BRIDGE_URL: options.bridgeUrl,
      EDGE_CONFIG: JSON.parse(JSON.stringify(edge)),
      JWT_SECRET: options.devSecret,
    },
    overrides,
  };
}
