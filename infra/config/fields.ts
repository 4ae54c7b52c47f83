import { z } from "zod";

/** Field forms several parts of the stack config share. */
export const hostname = z
  .string()
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    "must be a lowercase DNS hostname such as mycosoft.com",
  );
export const cloudflareId = (what: string) =>
  z
    .string()
    .regex(
      /^[0-9a-f]{32}$/,
      `must be the ${what}: 32 lowercase hex characters (Cloudflare dashboard → Overview)`,
    );
/** The IDs the example stack files ship with: zeros, for the user to replace. */
export const PLACEHOLDER_ID = /^0{32}$/;

export const urlPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._~\-/]*$/, "must be a URL path starting with /");
