// Pulumi's policy-pack runner require()s the entry with its own ts-node and no way to add
// --import tsx (PulumiPolicy.yaml has no runtime options), so this CommonJS shim hands the
// ESM TypeScript pack to tsx.
module.exports = import("tsx/esm/api").then(({ register }) => {
  register();
  return import("./pack.ts");
});
