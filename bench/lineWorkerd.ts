/**
 * Several Workers in one bare `workerd serve` (as `workerdProcess.ts` runs one): the edge beside
 * the line script whose SQLite-backed Durable Object class it binds by service name, as deployed;
 * or many copies of one edge, each its own isolate on its own socket.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/support/freePort";
import { capnpBindings, serveWorkerd } from "./workerdProcess";

export interface WorkerSpec {
  /** The service's name; other Workers bind its Durable Object classes by it. */
  name: string;
  moduleName: string;
  code: string;
  /** Plain and JSON bindings (`capnpBindings`). */
  bindings: Record<string, unknown>;
  /** Durable Object namespace bindings: binding name → a class and the service that holds it. */
  durableObjects?: Record<string, { className: string; serviceName: string }>;
  /** SQLite-backed Durable Object classes this Worker exports. */
  classes?: string[];
  /** Whether it listens on a loopback socket of its own (clients reach it there). */
  listen?: boolean;
}

export interface WorkerdServices {
  /** The port of each Worker that listens, by name. */
  ports: Map<string, number>;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** A Cap'n Proto declaration name (camelCase, no underscores) for the i-th Worker. */
const capnpName = (index: number) => `worker${index}`;

function workerConfig(spec: WorkerSpec, index: number): string {
  const bindings = [
    capnpBindings(spec.bindings),
    ...Object.entries(spec.durableObjects ?? {}).map(
      ([binding, { className, serviceName }]) =>
        `(name = ${JSON.stringify(binding)}, durableObjectNamespace = (className = ${JSON.stringify(className)}, serviceName = ${JSON.stringify(serviceName)}))`,
    ),
  ].filter((entry) => entry.length > 0);
  const classes = spec.classes ?? [];
  const storage = classes.length
    ? `
  durableObjectNamespaces = [ ${classes.map((className) => `(className = ${JSON.stringify(className)}, uniqueKey = ${JSON.stringify(`${spec.name}-${className}`)}, enableSql = true)`).join(", ")} ],
  durableObjectStorage = (localDisk = "do-disk"),`
    : "";
  return `const ${capnpName(index)} :Workerd.Worker = (
  modules = [ (name = ${JSON.stringify(spec.moduleName)}, esModule = embed ${JSON.stringify(`${capnpName(index)}/${spec.moduleName}`)}) ],
  compatibilityDate = "%DATE%",
  bindings = [
    ${bindings.join(",\n    ")}
  ],${storage}
);`;
}

/** Starts one workerd with `workers`; resolves once every listening Worker answers. */
export async function startWorkerdServices(options: {
  compatibilityDate: string;
  workers: WorkerSpec[];
  /** Receives each line workerd prints to stdout (the Workers' log lines); dropped without it. */
  onStdoutLine?: (line: string) => void;
}): Promise<WorkerdServices> {
  const dir = mkdtempSync(join(tmpdir(), "voice-edge-workerd-line-"));
  const ports = new Map<string, number>();
  for (const spec of options.workers) if (spec.listen) ports.set(spec.name, await freePort());
  const withStorage = options.workers.some((spec) => (spec.classes ?? []).length > 0);
  if (withStorage) mkdirSync(join(dir, "do-disk"));
  options.workers.forEach((spec, i) => {
    mkdirSync(join(dir, capnpName(i)));
    writeFileSync(join(dir, capnpName(i), spec.moduleName), spec.code);
  });
  const services = [
    ...options.workers.map(
      (spec, i) => `(name = ${JSON.stringify(spec.name)}, worker = .${capnpName(i)})`,
    ),
    // The default outbound; loopback must be allowed to reach the local guards.
    `(name = "internet", network = (allow = ["public", "private", "local"]))`,
    ...(withStorage
      ? [
          `(name = "do-disk", disk = (path = ${JSON.stringify(join(dir, "do-disk"))}, writable = true))`,
        ]
      : []),
  ];
  const sockets = [...ports].map(
    ([name, port]) =>
      `(name = ${JSON.stringify(`socket-${name}`)}, address = "127.0.0.1:${port}", http = (), service = ${JSON.stringify(name)})`,
  );
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    ${services.join(",\n    ")}
  ],
  sockets = [
    ${sockets.join(",\n    ")}
  ],
);
${options.workers
  .map((spec, i) => workerConfig(spec, i))
  .join("\n")
  .replaceAll("%DATE%", options.compatibilityDate)}
`,
  );
  const served = serveWorkerd(dir, [], options.onStdoutLine);
  await served.untilAnswering(ports.values(), 30_000);
  const { child, stop } = served;
  return { ports, process: child, stop };
}
