/**
 * `npm run --silent token`: prints one JWT the local edge accepts (signed with the local
 * development secret), and nothing else. With `--secret-env NAME` it signs with the HS256 secret
 * in that environment variable instead, e.g. for the smoke test against a deployed stack.
 */
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { localDevSecret } from "./lib/devSecret";
import { loadStackSettings } from "./lib/stackFile";

const USAGE = "usage: npm run --silent token -- [--stack staging] [--sub local-dev] [--ttl 1h] [--aud <audience>] [--iss <issuer>] [--secret-env <VAR>]";

function fail(message: string): never {
  console.error(`token: ${message}\n${USAGE}`);
  process.exit(2);
}

export function parseLifetime(text: string): number {
  const match = text.match(/^(\d+)(s|m|h)?$/);
  if (!match) fail(`--ttl "${text}" is not a lifetime: use seconds or a number with s, m or h (e.g. 90, 10m, 1h)`);
  const seconds = Number(match[1]) * { s: 1, m: 60, h: 3600 }[(match[2] ?? "s") as "s" | "m" | "h"];
  if (seconds < 1 || seconds > 7 * 24 * 3600) fail(`--ttl "${text}" must be between 1 s and 7 days`);
  return seconds;
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      stack: { type: "string", default: "staging" },
      sub: { type: "string", default: "local-dev" },
      ttl: { type: "string", default: "1h" },
      aud: { type: "string" },
      iss: { type: "string" },
      "secret-env": { type: "string" },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}

let auth;
try {
  auth = loadStackSettings(args.stack).edge.auth;
} catch (error) {
  fail((error as Error).message);
}
if (auth.mode !== "jwt") fail(`stack "${args.stack}" has auth.mode off: the edge needs no token`);

const now = Math.floor(Date.now() / 1000);
const jwt = new SignJWT({})
  .setProtectedHeader({ alg: "HS256", typ: "JWT" })
  .setSubject(args.sub)
  .setIssuedAt(now)
  .setExpirationTime(now + parseLifetime(args.ttl));
const issuer = args.iss ?? auth.issuer;
const audience = args.aud ?? auth.audience;
if (issuer) jwt.setIssuer(issuer);
if (audience) jwt.setAudience(audience);
const secretEnv = args["secret-env"];
const secret = secretEnv ? process.env[secretEnv] : localDevSecret();
if (!secret) fail(`--secret-env ${secretEnv}: that environment variable is empty or unset`);
console.log(await jwt.sign(new TextEncoder().encode(secret)));
