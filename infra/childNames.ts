import type * as pulumi from "@pulumi/pulumi";

/** Where a child is declared: the component's name, which every child's name starts with, and the options every child takes. */
export interface Scope {
  name: string;
  opts: pulumi.CustomResourceOptions;
}

/** `voice-edge` + `worker` → `voice-edge-worker`: two components with different names never share a child's URN. */
export function childName(component: string, suffix: string): string {
  return `${component}-${suffix}`;
}

export interface Child {
  name: string;
  opts: pulumi.CustomResourceOptions;
}

/**
 * A child's name and options. `formerName` is the fixed name the child had while a program could
 * hold only one VoiceEdge; as an alias it lets a stack created then update in place instead of
 * replacing the resource (the alias takes the child's type and parent, which did not change).
 * The engine refuses two resources claiming one existing URN, so a stack that still holds the
 * fixed names runs one `pulumi up` before it adds a second VoiceEdge.
 */
export function child(
  scope: Scope,
  suffix: string,
  formerName: string,
  extra: pulumi.CustomResourceOptions = {},
): Child {
  return {
    name: childName(scope.name, suffix),
    opts: { ...scope.opts, ...extra, aliases: [{ name: formerName }] },
  };
}

/**
 * A bridge's child: `<component>-<bridge>-<suffix>` for a listed bridge; the single-bridge `tunnel`
 * form keeps `<component>-<suffix>` and its former name, so a stack of one updates in place.
 */
export function bridgeChild(
  scope: Scope,
  bridge: { name: string; single: boolean },
  suffix: string,
  formerName: string,
  extra: pulumi.CustomResourceOptions = {},
): Child {
  if (bridge.single) return child(scope, suffix, formerName, extra);
  return {
    name: childName(scope.name, `${bridge.name}-${suffix}`),
    opts: { ...scope.opts, ...extra },
  };
}
