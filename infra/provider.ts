import * as cloudflare from "@pulumi/cloudflare";
import type * as pulumi from "@pulumi/pulumi";

/**
 * The one Cloudflare provider every resource uses. Its token comes from the `cloudflare:apiToken`
 * secret; without it the provider reads CLOUDFLARE_API_TOKEN from the environment itself, so the
 * token never lands in state.
 */
export function cloudflareProvider(
  apiToken: pulumi.Output<string> | undefined,
): cloudflare.Provider {
  return new cloudflare.Provider("cloudflare", apiToken ? { apiToken } : {});
}
