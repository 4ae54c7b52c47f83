/**
 * `npm run --silent token`: prints one JWT the local edge accepts (signed with the local
 * development secret), and nothing else. With `--secret-env NAME` it signs with the HS256 secret
 * in that environment variable instead, e.g. for the smoke test against a deployed stack.
 */
import { defineCommand, isEntryPoint, main, UsageError } from "./lib/cli";
import { localDevSecret } from "./lib/devSecret";
import { signDevToken } from "./lib/devToken";
import { knownStacks, loadStackSettings } from "../infra/config/stackFiles";
import { jwtSecretSchema } from "../worker/src/config/rules";

const MAX_LIFETIME_SECONDS = 7 * 24 * 3600;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** `90`, `90s`, `10m`, `1h`, `7d` → seconds; undefined when the text is not a lifetime of 1 s to 7 days. */
export function parseLifetime(text: string): number | undefined {
  const match = text.match(/^(\d+)([smhd])?$/);
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNIT_SECONDS[(match[2] ?? "s") as keyof typeof UNIT_SECONDS];
  return seconds >= 1 && seconds <= MAX_LIFETIME_SECONDS ? seconds : undefined;
}

const command = defineCommand({
  name: "token",
  invocation: "npm run --silent token --",
  options: {
    stack: {
      type: "string",
      value: "<name>",
      default: "staging",
      description: "the stack whose issuer and audience the token carries",
    },
    sub: {
      type: "string",
      value: "<subject>",
      default: "local-dev",
      description: "the token's subject",
    },
    ttl: {
      type: "string",
      value: "<lifetime>",
      default: "1h",
      description:
        "lifetime: seconds, or a number with s, m, h or d (90, 10m, 1h, 7d); at most 7 days",
    },
    aud: {
      type: "string",
      value: "<audience>",
      defaultText: "the stack's",
      description: "audience",
    },
    iss: { type: "string", value: "<issuer>", defaultText: "the stack's", description: "issuer" },
    "secret-env": {
      type: "string",
      value: "<VAR>",
      defaultText: "the local development secret",
      description: "sign with the HS256 secret in this environment variable",
    },
  },
  notes: ["prints one JWT and nothing else; exit 2 for a usage mistake"],
});
function fail(message: string): never {
  throw new UsageError(message);
}

export async function run(argv: string[]): Promise<number> {
  const args = command.parse(argv);
  const lifetime =
    parseLifetime(args.ttl) ??
    fail(
      `--ttl "${args.ttl}" is not a lifetime from 1 s to 7 days: use seconds or a number with s, m, h or d (e.g. 90, 10m, 1h, 7d)`,
    );

  if (!knownStacks().includes(args.stack))
    fail(`unknown stack "${args.stack}": the stacks here are ${knownStacks().join(", ")}`);
  const auth = loadStackSettings(args.stack).edge.auth;
  if (auth.mode !== "jwt") fail(`stack "${args.stack}" has auth.mode off: the edge needs no token`);
  const cap = auth.maxTokenLifetimeSeconds;
  if (cap !== undefined && lifetime > cap)
    fail(
      `--ttl ${args.ttl} is longer than stack "${args.stack}"'s edge.auth.maxTokenLifetimeSeconds (${cap} s): the edge would refuse the token`,
    );

  const secretEnv = args["secret-env"];
  const secret = secretEnv ? process.env[secretEnv] : localDevSecret();
  if (!secret) fail(`--secret-env ${secretEnv}: that environment variable is empty or unset`);
  const checked = jwtSecretSchema.safeParse(secret);
  // The edge refuses such a JWT_SECRET: a token signed with it could never be accepted. Never echo it.
  if (!checked.success)
    fail(
      `--secret-env ${secretEnv}: the secret there ${checked.error.issues[0].message}, as the edge's JWT_SECRET must be`,
    );
  console.log(
    await signDevToken(
      {
        subject: args.sub,
        lifetimeSeconds: lifetime,
        issuer: args.iss ?? auth.issuer,
        audience: args.aud ?? auth.audience,
      },
      secret,
    ),
  );
  return 0;
}

if (isEntryPoint(import.meta.url)) void main(command, run);
