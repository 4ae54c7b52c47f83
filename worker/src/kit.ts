import { EdgeError, errorResponse } from "./errors";

/** Where the edge serves the client kit (kit/voice.ts, built); v1 keeps its exported names and states. */
export const KIT_PATH = "/voice/kit/v1/voice.mjs";
/** Short: a fixed kit reaches pages within minutes of a deploy, and the ETag makes a revalidation cheap. */
export const KIT_CACHE_CONTROL = "public, max-age=300";

export interface ServedKit {
  KIT_MODULE_TEXT: string;
  KIT_MODULE_SHA256: string;
}

/**
 * `GET`/`HEAD /voice/kit/v1/voice.mjs`: the kit's module, readable by a page on any origin (public
 * code, no credentials), with an ETag; `304` when the page already holds these bytes.
 */
export function kitResponse(request: Request, kit: ServedKit): Response {
  if (request.method !== "GET" && request.method !== "HEAD")
    return errorResponse(new EdgeError("method_not_allowed"), { Allow: "GET, HEAD" });
  const etag = `"${kit.KIT_MODULE_SHA256}"`;
  const headers = {
    "Content-Type": "text/javascript; charset=utf-8",
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": KIT_CACHE_CONTROL,
    ETag: etag,
  };
  const held = (request.headers.get("If-None-Match") ?? "")
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, ""));
  if (held.includes(etag) || held.includes("*"))
    return new Response(null, { status: 304, headers });
  return new Response(request.method === "HEAD" ? null : kit.KIT_MODULE_TEXT, {
    status: 200,
    headers,
  });
}
