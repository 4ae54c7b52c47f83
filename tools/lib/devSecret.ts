import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../infra/config/stackFiles";

/** Where the local edge keeps its development-only HS256 secret (git-ignored, made on first use). */
export const DEV_SECRET_PATH = join(PROJECT_ROOT, ".voice-edge", "dev-jwt-secret");

export function localDevSecret(): string {
  if (!existsSync(DEV_SECRET_PATH)) {
    mkdirSync(join(PROJECT_ROOT, ".voice-edge"), { recursive: true });
    writeFileSync(DEV_SECRET_PATH, randomBytes(32).toString("base64url"), { mode: 0o600 });
  }
  return readFileSync(DEV_SECRET_PATH, "utf8").trim();
}
