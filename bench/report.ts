/** The benchmark's results as a Markdown table and an SVG chart. */
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

const fmt = (value: number | undefined, digits = 0) => (value === undefined || Number.isNaN(value) ? "—" : value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const ratio = (value: number, base: number) => (base > 0 ? `${(value / base).toFixed(2)}×` : "—");

export function resultsTable(results: PathResult[]): string {
  const direct = results.find((r) => r.name === "direct")!;
  const rows = results.flatMap((r) => {
    const main = `| ${r.name} | ${fmt(r.handshake.p50)} | ${fmt(r.handshake.p99)} | ${ratio(r.handshake.p50, direct.handshake.p50)} | ${fmt(r.rtt.p50)} | ${fmt(r.rtt.p99)} | ${r.name === "direct" ? "—" : `+${fmt(r.rtt.p50 - direct.rtt.p50)}`} | ${ratio(r.rtt.p50, direct.rtt.p50)} | ${fmt(r.messagesPerSecond)} | ${ratio(r.messagesPerSecond, direct.messagesPerSecond)} | ${fmt(r.proxyCpuMicrosPerMessage, 1)} | ${fmt(r.idleKiBPerSession, 1)} |`;
    const rs = r.handshakeRs256 ? [`| ${r.name} (RS256 token) | ${fmt(r.handshakeRs256.p50)} | ${fmt(r.handshakeRs256.p99)} | ${ratio(r.handshakeRs256.p50, direct.handshake.p50)} | | | | | | | | |`] : [];
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
  if (peers.length === 0) return [{ target: "peers", met: false, detail: "no peer proxy could be started: nothing to compare against" }];
  const added = (r: PathResult) => r.rtt.p50 - direct.rtt.p50;
  const bestRtt = peers.reduce((best, p) => (added(p) < added(best) ? p : best));
  checks.push({
    target: "edge RTT p50 added over direct ≤ best peer's",
    met: added(edge) <= added(bestRtt),
    detail: `edge +${fmt(added(edge))} µs vs ${bestRtt.name} +${fmt(added(bestRtt))} µs`,
  });
  const bestThroughput = peers.reduce((best, p) => (p.messagesPerSecond > best.messagesPerSecond ? p : best));
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
      return `<rect x="${x.toFixed(1)}" y="${(top + plotHeight - h).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${r.name} ${s.label}: ${Math.round(s.value(r))} µs</title></rect>` +
        `<text x="${(x + barWidth / 2 - 1).toFixed(1)}" y="${(top + plotHeight - h - 4).toFixed(1)}" font-size="10" text-anchor="middle">${Math.round(s.value(r))}</text>`;
    }),
  );
  const labels = results.map((r, i) => `<text x="${(left + i * groupWidth + groupWidth / 2).toFixed(1)}" y="${height - bottom + 20}" font-size="13" text-anchor="middle">${r.name}</text>`);
  const legend = series.map((s, j) => `<rect x="${left + j * 150}" y="${height - 22}" width="12" height="12" fill="${s.color}"/><text x="${left + j * 150 + 18}" y="${height - 12}" font-size="12">${s.label}</text>`);
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
