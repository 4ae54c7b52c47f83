/** The benchmark's results as a Markdown table and an SVG chart. */
import type { Spread } from "../test/support/stats";
import type { Percentiles } from "./measure";

export interface PathResult {
  name: string;
  handshake: Percentiles;
  /** Edge only: handshakes with an RS256 token from the JWKS (key cached). */
  handshakeRs256?: Percentiles;
  rtt: Percentiles;
  messagesPerSecond: number;
  /** CPU the proxy process(es) spent per echoed message, µs (user + system). */
  proxyCpuMicrosPerMessage?: number;
  /** Proxy RSS growth per idle session, KiB. */
  idleKiBPerSession?: number;
}

const fmt = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value)
    ? "—"
    : value.toLocaleString("en-US", {
        maximumFractionDigits: digits,
        minimumFractionDigits: digits,
      });
const ratio = (value: number, base: number) => (base > 0 ? `${(value / base).toFixed(2)}×` : "—");

export function resultsTable(results: PathResult[]): string {
  const direct = results.find((r) => r.name === "direct")!;
  const rows = results.flatMap((r) => {
    const main = `| ${r.name} | ${fmt(r.handshake.p50)} | ${fmt(r.handshake.p99)} | ${ratio(r.handshake.p50, direct.handshake.p50)} | ${fmt(r.rtt.p50)} | ${fmt(r.rtt.p99)} | ${r.name === "direct" ? "—" : `+${fmt(r.rtt.p50 - direct.rtt.p50)}`} | ${ratio(r.rtt.p50, direct.rtt.p50)} | ${fmt(r.messagesPerSecond)} | ${ratio(r.messagesPerSecond, direct.messagesPerSecond)} | ${fmt(r.proxyCpuMicrosPerMessage, 1)} | ${fmt(r.idleKiBPerSession, 1)} |`;
    const rs = r.handshakeRs256
      ? [
          `| ${r.name} (RS256 token) | ${fmt(r.handshakeRs256.p50)} | ${fmt(r.handshakeRs256.p99)} | ${ratio(r.handshakeRs256.p50, direct.handshake.p50)} | | | | | | | | |`,
        ]
      : [];
    return [main, ...rs];
  });
  return [
    "| path | handshake p50 µs | handshake p99 µs | handshake × direct | RTT p50 µs | RTT p99 µs | RTT p50 added µs | RTT × direct | msg/s (64 in flight) | msg/s × direct | proxy CPU µs/msg | idle KiB/session |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

export interface TargetCheck {
  target: string;
  met: boolean;
  detail: string;
}

export function checkTargets(results: PathResult[]): TargetCheck[] {
  const direct = results.find((r) => r.name === "direct")!;
  const edge = results.find((r) => r.name === "edge")!;
  const peers = results.filter((r) => r.name !== "direct" && r.name !== "edge");
  const checks: TargetCheck[] = [];
  if (peers.length === 0)
    return [
      {
        target: "peers",
        met: false,
        detail: "no peer proxy could be started: nothing to compare against",
      },
    ];
  const added = (r: PathResult) => r.rtt.p50 - direct.rtt.p50;
  const bestRtt = peers.reduce((best, p) => (added(p) < added(best) ? p : best));
  checks.push({
    target: "edge RTT p50 added over direct ≤ best peer's",
    met: added(edge) <= added(bestRtt),
    detail: `edge +${fmt(added(edge))} µs vs ${bestRtt.name} +${fmt(added(bestRtt))} µs`,
  });
  const bestThroughput = peers.reduce((best, p) =>
    p.messagesPerSecond > best.messagesPerSecond ? p : best,
  );
  const throughputRatio = edge.messagesPerSecond / bestThroughput.messagesPerSecond;
  checks.push({
    target: "edge throughput ≥ best peer's (or within 10%)",
    met: throughputRatio >= 0.9,
    detail: `edge ${fmt(edge.messagesPerSecond)} msg/s vs ${bestThroughput.name} ${fmt(bestThroughput.messagesPerSecond)} msg/s (${(throughputRatio * 100).toFixed(0)}%)`,
  });
  const nginx = peers.find((p) => p.name === "nginx");
  if (nginx) {
    const handshakeRatio = edge.handshake.p50 / nginx.handshake.p50;
    checks.push({
      target: "authenticated edge handshake p50 ≤ 1.5× nginx's",
      met: handshakeRatio <= 1.5,
      detail: `edge (HS256) ${fmt(edge.handshake.p50)} µs vs nginx ${fmt(nginx.handshake.p50)} µs (${handshakeRatio.toFixed(2)}×)${edge.handshakeRs256 ? `; RS256 ${fmt(edge.handshakeRs256.p50)} µs (${(edge.handshakeRs256.p50 / nginx.handshake.p50).toFixed(2)}×)` : ""}`,
    });
  }
  return checks;
}

/** A grouped bar chart of RTT p50/p99 and handshake p50 per path. */
export function latencyChartSvg(results: PathResult[], title: string): string {
  const series = [
    { label: "RTT p50", color: "#2b6cb0", value: (r: PathResult) => r.rtt.p50 },
    { label: "RTT p99", color: "#90cdf4", value: (r: PathResult) => r.rtt.p99 },
    { label: "handshake p50", color: "#dd6b20", value: (r: PathResult) => r.handshake.p50 },
  ];
  const width = 860;
  const height = 420;
  const left = 70;
  const bottom = 60;
  const top = 50;
  const plotHeight = height - top - bottom;
  const max = Math.max(...results.flatMap((r) => series.map((s) => s.value(r))));
  const scale = (v: number) => (v / max) * plotHeight;
  const groupWidth = (width - left - 20) / results.length;
  const barWidth = (groupWidth - 20) / series.length;
  const bars = results.flatMap((r, i) =>
    series.map((s, j) => {
      const x = left + i * groupWidth + 10 + j * barWidth;
      const h = scale(s.value(r));
      return (
        `<rect x="${x.toFixed(1)}" y="${(top + plotHeight - h).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${r.name} ${s.label}: ${Math.round(s.value(r))} µs</title></rect>` +
        `<text x="${(x + barWidth / 2 - 1).toFixed(1)}" y="${(top + plotHeight - h - 4).toFixed(1)}" font-size="10" text-anchor="middle">${Math.round(s.value(r))}</text>`
      );
    }),
  );
  const labels = results.map(
    (r, i) =>
      `<text x="${(left + i * groupWidth + groupWidth / 2).toFixed(1)}" y="${height - bottom + 20}" font-size="13" text-anchor="middle">${r.name}</text>`,
  );
  const legend = series.map(
    (s, j) =>
      `<rect x="${left + j * 150}" y="${height - 22}" width="12" height="12" fill="${s.color}"/><text x="${left + j * 150 + 18}" y="${height - 12}" font-size="12">${s.label}</text>`,
  );
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const y = top + plotHeight - f * plotHeight;
    return `<line x1="${left - 4}" x2="${width - 20}" y1="${y}" y2="${y}" stroke="#e2e8f0"/><text x="${left - 8}" y="${y + 4}" font-size="11" text-anchor="end">${Math.round(f * max)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="24" font-size="16" text-anchor="middle">${title}</text>
<text x="16" y="${top + plotHeight / 2}" font-size="12" transform="rotate(-90 16 ${top + plotHeight / 2})" text-anchor="middle">µs (lower is better)</text>
${ticks.join("\n")}
${bars.join("\n")}
${labels.join("\n")}
${legend.join("\n")}
</svg>
`;
}

/** One row of the floor-relative table: a path in one runtime, with its spread over rounds. */
export interface FloorRow {
  runtime: string;
  name: string;
  /** The runtime's floor row, that the others in the runtime are divided by. */
  floor: boolean;
  handshake: Spread;
  rtt?: Spread;
  messagesPerSecond?: Spread;
}

const spread = (s: Spread | undefined, digits = 0) =>
  s ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : "—";

/** Handshake, RTT and throughput against the same runtime's floor, medians over rounds with min–max. */
export function floorTable(rows: FloorRow[]): string {
  const floorOf = (row: FloorRow) => rows.find((r) => r.runtime === row.runtime && r.floor)!;
  const body = rows.map((row) => {
    const floor = floorOf(row);
    const added = row.rtt && floor.rtt ? row.rtt.median - floor.rtt.median : 0;
    const rttAdded =
      row.rtt && floor.rtt && !row.floor ? `${added >= 0 ? "+" : "−"}${fmt(Math.abs(added))}` : "—";
    const mps =
      row.messagesPerSecond && floor.messagesPerSecond && !row.floor
        ? ratio(row.messagesPerSecond.median, floor.messagesPerSecond.median)
        : "—";
    return `| ${row.runtime} | ${row.name} | ${spread(row.handshake)} | ${row.floor ? "1.00×" : ratio(row.handshake.median, floor.handshake.median)} | ${spread(row.rtt)} | ${rttAdded} | ${spread(row.messagesPerSecond)} | ${row.floor ? "1.00×" : mps} |`;
  });
  return [
    "| runtime | path | handshake p50 µs (min–max) | handshake × floor | RTT p50 µs (min–max) | RTT added over floor µs | msg/s (min–max) | msg/s × floor |",
    "|---|---|---|---|---|---|---|---|",
    ...body,
  ].join("\n");
}

export interface CpuRow {
  name: string;
  micros: Spread;
  /** Handshake p50 over the same upgrades, µs. */
  handshake?: Spread;
}

/** workerd's CPU per upgrade, and what the edge adds to the floor's. */
export function cpuTable(rows: CpuRow[]): string {
  const floor = rows.find((r) => r.name === "floor")!;
  return [
    "| path (bare workerd) | workerd CPU µs per upgrade (min–max) | the Worker's own: minus the floor, µs | handshake p50 µs (min–max) |",
    "|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${spread(r.micros)} | ${r === floor ? "—" : fmt(r.micros.median - floor.micros.median)} | ${spread(r.handshake)} |`,
    ),
  ].join("\n");
}

export interface FloorTargetInput {
  workerd: FloorRow[];
  cpu: CpuRow[];
}

/** The targets of the edge's own cost, measured against the floor in one run. */
export function checkFloorTargets({ workerd, cpu }: FloorTargetInput): TargetCheck[] {
  const floor = workerd.find((r) => r.floor)!;
  const row = (name: string) => workerd.find((r) => r.name === name);
  const checks: TargetCheck[] = [];
  const hs = row("edge HS256");
  if (hs) {
    const r = hs.handshake.median / floor.handshake.median;
    checks.push({
      target: "handshake ≤ 1.10× the floor with HS256",
      met: r <= 1.1,
      detail: `${fmt(hs.handshake.median)} µs vs ${fmt(floor.handshake.median)} µs (${r.toFixed(2)}×)`,
    });
  }
  for (const name of ["edge ES256", "edge RS256"]) {
    const jwks = row(name);
    if (!jwks) continue;
    const r = jwks.handshake.median / floor.handshake.median;
    checks.push({
      target: `handshake ≤ 1.20× the floor with a cached JWKS key (${name.slice(5)})`,
      met: r <= 1.2,
      detail: `${fmt(jwks.handshake.median)} µs (${r.toFixed(2)}×)`,
    });
  }
  if (hs?.rtt && floor.rtt) {
    const added = hs.rtt.median - floor.rtt.median;
    checks.push({
      target: "added RTT p50 within 10 µs of the floor",
      met: added <= 10,
      detail: `${added >= 0 ? "+" : ""}${fmt(added)} µs`,
    });
  }
  if (hs?.messagesPerSecond && floor.messagesPerSecond) {
    const r = hs.messagesPerSecond.median / floor.messagesPerSecond.median;
    checks.push({
      target: "throughput ≥ 0.9× the floor's",
      met: r >= 0.9,
      detail: `${fmt(hs.messagesPerSecond.median)} vs ${fmt(floor.messagesPerSecond.median)} msg/s (${r.toFixed(2)}×)`,
    });
  }
  const cpuFloor = cpu.find((c) => c.name === "floor");
  const cpuHs = cpu.find((c) => c.name === "edge HS256");
  if (cpuFloor && cpuHs) {
    const own = cpuHs.micros.median - cpuFloor.micros.median;
    checks.push({
      target: "Worker CPU ≤ 150 µs per HS256 upgrade",
      met: own <= 150,
      detail: `${fmt(own)} µs over the floor's ${fmt(cpuFloor.micros.median)} µs`,
    });
  }
  return checks;
}
