import { execFile } from "node:child_process";
import { bridgesOf } from "../config/schema";
import { tunnelName } from "../tunnel";
import { stackFileName } from "../config/stackFiles";
import type { Check } from "./check";
import { requiredPermission } from "./permissions";
import { ok, problem } from "./result";

const CHECK = "tunnel";
const PULUMI_BOUND_MS = 10_000;

/** `pulumi stack output tunnelId --stack <stack>`, bounded at 10 s; undefined when there is no CLI, no stack or no output. */
export function tunnelIdFromPulumi(stack: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      "pulumi",
      ["stack", "output", "tunnelId", "--stack", stack],
      { timeout: PULUMI_BOUND_MS, windowsHide: true },
      (error, stdout) => {
        const id = String(stdout ?? "").trim();
        resolve(!error && /^[0-9a-f-]{32,36}$/i.test(id) ? id : undefined);
      },
    );
  });
}

export const tunnelCheck: Check = {
  name: CHECK,
  reading: "the account's tunnels",
  permission: requiredPermission("Cloudflare Tunnel Write"),
  async run({ client, stack, settings, tunnelId }) {
    // Checks the first bridge's tunnel: `--tunnel-id` and the tunnelId output name one tunnel.
    const name = tunnelName(settings, bridgesOf(settings)[0]);
    const tunnels = [];
    for await (const tunnel of client.zeroTrust.tunnels.cloudflared.list({
      account_id: settings.accountId,
      name,
      is_deleted: false,
    })) {
      if (tunnel.name === name && !tunnel.deleted_at) tunnels.push(tunnel);
    }
    if (tunnels.length === 0)
      return [ok(CHECK, `no tunnel named ${name} yet: \`pulumi up\` creates it`)];
    const ownId = await tunnelId();
    const others = tunnels.filter((tunnel) => tunnel.id !== ownId);
    if (others.length === 0) return [ok(CHECK, `${name} is this stack's tunnel (${ownId})`)];
    const unknown =
      ownId === undefined
        ? `; this stack's own tunnel ID is unknown (no --tunnel-id, and no answer from \`pulumi stack output tunnelId\`): a tunnel this stack created is recognised with --tunnel-id $(pulumi stack output tunnelId --stack ${stack})`
        : "";
    return [
      problem(
        CHECK,
        `a tunnel named ${name} already exists (${others.map((t) => t.id).join(", ")}) and is not this stack's; Cloudflare refuses a second tunnel with the same name${unknown}`,
        `delete it (dashboard → Zero Trust → Networks → Tunnels) or set voice-edge:tunnel → name in ${stackFileName(stack)}`,
      ),
    ];
  },
};
