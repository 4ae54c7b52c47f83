/** The edge's half of a line socket: the coordinator's answer to a join, read into a typed result. */
import { bounded, CoordinatorUnavailable } from "./edge";
import { LINE_JOIN_URL, LINE_SUBJECT_HEADER, type LineCoordinator } from "./rpc";

export type Joined =
  | { kind: "joined"; socket: WebSocket }
  | { kind: "session_limit"; limit: number }
  | { kind: "full" }
  | { kind: "unavailable"; why: string };

/** Asks the coordinator (bounded, as every call to it) for this subject's place and socket. */
export async function joinLine(
  coordinator: LineCoordinator,
  subject: string | null,
): Promise<Joined> {
  const headers: Record<string, string> = { Upgrade: "websocket" };
  if (subject !== null) headers[LINE_SUBJECT_HEADER] = subject;
  let answer: Response;
  try {
    answer = await bounded(() =>
      (coordinator as unknown as Fetcher).fetch(new Request(LINE_JOIN_URL, { headers })),
    );
  } catch (error) {
    if (error instanceof CoordinatorUnavailable) return { kind: "unavailable", why: error.why };
    throw error;
  }
  if (answer.status === 101 && answer.webSocket)
    return { kind: "joined", socket: answer.webSocket };
  const body = (await answer.json().catch(() => ({}))) as { error?: string; limit?: number };
  if (answer.status === 409 && typeof body.limit === "number")
    return { kind: "session_limit", limit: body.limit };
  if (answer.status === 503 && body.error === "line_full") return { kind: "full" };
  return { kind: "unavailable", why: `status:${answer.status}` };
}
