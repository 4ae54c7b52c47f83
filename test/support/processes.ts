import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Linux /proc readings of a process, for load measurements (workerd's RSS and CPU). */

/** The pid of the process holding a listening IPv4 TCP socket on `port` (e.g. workerd behind Miniflare). */
export function pidListeningOn(port: number): number {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // fields: sl local_address rem_address st ... inode (index 9); st 0A is LISTEN.
    if (fields.length > 9 && fields[1].endsWith(`:${portHex}`) && fields[3] === "0A")
      inodes.add(`socket:[${fields[9]}]`);
  }
  if (inodes.size === 0) throw new Error(`nothing listens on TCP port ${port}`);
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid);
      } catch {
        // the descriptor closed while we looked
      }
    }
  }
  throw new Error(`no readable process holds the socket listening on port ${port}`);
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB$/m);
  if (!match) throw new Error(`process ${pid} has no VmRSS`);
  return Number(match[1]) * 1024;
}

let clockTicks: number | undefined;

/** User plus system CPU time the process has used, in seconds. */
export function cpuSeconds(pid: number): number {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/**
 * CPU time every thread of the process has run, in seconds, to the nanosecond (the scheduler's own
 * count in /proc/<pid>/task/<tid>/schedstat) — `cpuSeconds` moves in 10 ms clock ticks.
 */
export function cpuSecondsPrecise(pid: number): number {
  let nanos = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      nanos += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return nanos / 1e9;
}

/** How many file descriptors (sockets included) the process holds open. */
export function openFileDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export const MiB = 1024 * 1024;

/** A process and all its descendants (e.g. nginx's master and its worker). */
export function processTree(rootPid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++)
    for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

export const sumOver = (pids: number[], measure: (pid: number) => number) =>
  pids.reduce((total, pid) => total + measure(pid), 0);
