// The stand-ins are type-checked against the real modules in the root program (Node's and the DOM's
// types, not workers-types). worker/src/passThrough.ts uses the one Workers member the DOM lacks,
// a Response's WebSocket; declared here so that module checks there too.
interface Response {
  readonly webSocket?: WebSocket | null;
}

interface ResponseInit {
  webSocket?: WebSocket | null;
}
