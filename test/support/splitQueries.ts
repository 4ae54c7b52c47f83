/**
 * Issue 24's table: queries that HAProxy's `url_param` (the guard) and aiohttp (the PersonaPlex
 * server) read differently, each with what the server got, what the edge names when it refuses
 * it, and what the guard names (undefined: the query as a whole). One table for every reader's test.
 */
export interface SplitQuery {
  query: string;
  /** The server's reading (aiohttp: `&` only, decoded, a bad escape kept); null: absent. */
  serverGot: Record<string, string | null>;
  edge: { parameter: "text_prompt" | "voice_prompt" | "seed"; problem: string };
  guardParameter?: "text_prompt" | "voice_prompt" | "seed";
}

export const SPLIT_QUERIES: readonly SplitQuery[] = [
  {
    query: "text_prompt=hi;voice_prompt=NATF0.pt",
    serverGot: { text_prompt: "hi;voice_prompt=NATF0.pt", voice_prompt: null },
    edge: { parameter: "voice_prompt", problem: "missing" },
  },
  {
    query: "x=1;voice_prompt=NATF0.pt&voice_prompt=../../../etc/passwd&text_prompt=hi",
    serverGot: { voice_prompt: "../../../etc/passwd", text_prompt: "hi" },
    edge: { parameter: "voice_prompt", problem: "not_a_voice_file_name" },
  },
  {
    query: "text_prompt=hi&x=?voice_prompt=NATF0.pt&voice_prompt=../x.pt",
    serverGot: { x: "?voice_prompt=NATF0.pt", voice_prompt: "../x.pt" },
    edge: { parameter: "voice_prompt", problem: "not_a_voice_file_name" },
  },
  {
    query: "text_prompt=hi&voice_prompt=NATF0.pt&%73eed=1&z=%",
    serverGot: { voice_prompt: "NATF0.pt", seed: "1", z: "%" },
    edge: { parameter: "seed", problem: "not_accepted" },
  },
  {
    query: "text_prompt=hi&voice_prompt=/root/.cache/x.pt",
    serverGot: { voice_prompt: "/root/.cache/x.pt" },
    edge: { parameter: "voice_prompt", problem: "not_a_voice_file_name" },
    guardParameter: "voice_prompt",
  },
];
