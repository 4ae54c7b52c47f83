import { readdirSync, readFileSync } from "node:fs";

/** Resident set size of a process, in KiB (from /proc). */
export function rssKiB(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return match ? Number(match[1]) : 0;
}

/** User + system CPU time of a process so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticksPerSecond = 100;
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
}

function allProcesses(): ProcInfo[] {
  const result: ProcInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      result.push({ pid: Number(entry), ppid, comm });
    } catch {
      // the process ended while we looked
    }
  }
  return result;
}

/** A process and all its descendants (e.g. nginx's master and worker). */
export function processTree(rootPid: number): number[] {
  const processes = allProcesses();
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) for (const p of processes) if (p.ppid === tree[i]) tree.push(p.pid);
  return tree;
}

export const sum = (pids: number[], measure: (pid: number) => number) => pids.reduce((total, pid) => total + measure(pid), 0);
