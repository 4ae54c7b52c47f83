/** The Worker's bindings, in order, with an HS256 secret and without the bridge watch: what two tests expect. */
export const EDGE_BINDING_KINDS = [
  ["BRIDGE_URL", "plain_text"],
  ["EDGE_CONFIG", "json"],
  ["JWT_SECRET", "secret_text"],
  ["BRIDGE_ACCESS_CLIENT_ID", "secret_text"],
  ["BRIDGE_ACCESS_CLIENT_SECRET", "secret_text"],
];
