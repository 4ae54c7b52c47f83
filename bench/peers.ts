/** nginx, HAProxy and Caddy from Debian as WebSocket reverse proxies to the same bridge, on loopback. */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

export interface Peer {
  name: string;
  port: number;
  process: ChildProcess;
  version: string;
  stop(): Promise<void>;
}

interface PeerSpec {
  name: string;
  binary: string;
  debianPackage: string;
  version: () => string;
  configure: (
    dir: string,
    port: number,
    bridgePort: number,
  ) => { command: string; args: string[]; env?: Record<string, string> };
}

const firstLine = (result: { stdout: string; stderr: string }) =>
  (result.stdout || result.stderr).trim().split("\n")[0];

const PEERS: PeerSpec[] = [
  {
    name: "nginx",
    binary: "nginx",
    debianPackage: "nginx",
    version: () =>
      firstLine(spawnSync("nginx", ["-v"], { encoding: "utf8" })).replace(
        "nginx version: nginx/",
        "",
      ),
    configure: (dir, port, bridgePort) => {
      mkdirSync(join(dir, "logs"), { recursive: true });
      writeFileSync(
        join(dir, "nginx.conf"),
        `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${bridgePort};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
      proxy_read_timeout 3600s;
      proxy_buffering off;
    }
  }
}
`,
      );
      return {
        command: "nginx",
        args: ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"],
      };
    },
  },
  {
    name: "HAProxy",
    binary: "haproxy",
    debianPackage: "haproxy",
    version: () =>
      firstLine(spawnSync("haproxy", ["-v"], { encoding: "utf8" }))
        .replace(/^HAProxy version /i, "")
        .split(" ")[0],
    configure: (dir, port, bridgePort) => {
      writeFileSync(
        join(dir, "haproxy.cfg"),
        `global
  maxconn 8000
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 3600s
  timeout server 3600s
  timeout tunnel 3600s
frontend voice
  bind 127.0.0.1:${port}
  default_backend bridge
backend bridge
  server bridge 127.0.0.1:${bridgePort}
`,
      );
      return { command: "haproxy", args: ["-f", join(dir, "haproxy.cfg"), "-db"] };
    },
  },
  {
    name: "Caddy",
    binary: "caddy",
    debianPackage: "caddy",
    version: () => firstLine(spawnSync("caddy", ["version"], { encoding: "utf8" })).split(" ")[0],
    configure: (dir, port, bridgePort) => {
      writeFileSync(
        join(dir, "Caddyfile"),
        `{
  admin off
  auto_https off
}
http://127.0.0.1:${port} {
  reverse_proxy 127.0.0.1:${bridgePort}
}
`,
      );
      return {
        command: "caddy",
        args: ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"],
        // One core each, like nginx's one worker and HAProxy's one thread.
        env: {
          GOMAXPROCS: "1",
          XDG_DATA_HOME: join(dir, "data"),
          XDG_CONFIG_HOME: join(dir, "config"),
        },
      };
    },
  },
];

const installed = (binary: string) => spawnSync("sh", ["-c", `command -v ${binary}`]).status === 0;

/** Installs missing peers from Debian when possible; returns the names that cannot be had, with why. */
export function ensurePeersInstalled(log: (line: string) => void): Map<string, string> {
  const missing = PEERS.filter((peer) => !installed(peer.binary));
  const unavailable = new Map<string, string>();
  if (missing.length === 0) return unavailable;
  const packages = missing.map((peer) => peer.debianPackage);
  const asRoot = process.getuid?.() === 0 ? [] : installed("sudo") ? ["sudo"] : null;
  if (asRoot === null || !installed("apt-get")) {
    for (const peer of missing)
      unavailable.set(peer.name, "not installed, and apt-get (as root) is not available");
    return unavailable;
  }
  log(`installing ${packages.join(", ")} from Debian…`);
  const run = (args: string[]) =>
    spawnSync(asRoot[0] ?? args[0], asRoot.length ? args : args.slice(1), {
      stdio: "ignore",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  run(["apt-get", "update", "-qq"]);
  run(["apt-get", "install", "-y", "-qq", ...packages]);
  for (const peer of missing)
    if (!installed(peer.binary))
      unavailable.set(peer.name, `apt-get could not install ${peer.debianPackage}`);
  return unavailable;
}

function waitForPort(
  port: number,
  child: ChildProcess,
  name: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null)
        return reject(new Error(`${name} exited with ${child.exitCode}`));
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline)
          reject(new Error(`${name} did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startPeers(options: {
  workDir: string;
  bridgePort: number;
  ports: () => Promise<number>;
  skip: Set<string>;
  log: (line: string) => void;
}): Promise<Peer[]> {
  const peers: Peer[] = [];
  for (const spec of PEERS) {
    if (options.skip.has(spec.name)) continue;
    const dir = join(options.workDir, spec.binary);
    mkdirSync(dir, { recursive: true });
    const port = await options.ports();
    const { command, args, env } = spec.configure(dir, port, options.bridgePort);
    let stderr = "";
    const child = spawn(command, args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, ...env },
    });
    child.stderr!.on("data", (chunk) => (stderr = (stderr + chunk).slice(-2000)));
    try {
      await waitForPort(port, child, spec.name);
    } catch (error) {
      child.kill("SIGKILL");
      options.log(
        `${spec.name}: could not start (${(error as Error).message}) — going on without it. ${stderr.trim().split("\n").at(-1) ?? ""}`,
      );
      continue;
    }
    peers.push({
      name: spec.name,
      port,
      process: child,
      version: spec.version(),
      stop: () =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
          setTimeout(() => child.kill("SIGKILL"), 3_000).unref();
        }),
    });
  }
  return peers;
}
