import type Cloudflare from "cloudflare";
import type { StackSettings } from "../config/schema";
import type { DeclaredResource } from "../offlineRun";
import type { RequiredPermission } from "./permissions";
import type { CheckResult } from "./result";

export interface PreflightContext {
  client: Cloudflare;
  stack: string;
  settings: StackSettings;
  /** The stack's own tunnel ID (`--tunnel-id`, or `pulumi stack output tunnelId`), when known. */
  tunnelId: () => Promise<string | undefined>;
  /** What the next `pulumi up` declares (`plannedResources`), for the writes a token that may not read its policies must allow. */
  plannedResources?: () => Promise<DeclaredResource[]>;
}

/** One check: what it reads (for the line an API failure gives), the permission that covers it, and the check itself. */
export interface Check {
  name: string;
  reading: string;
  permission?: RequiredPermission;
  run: (context: PreflightContext) => Promise<CheckResult[]>;
}
