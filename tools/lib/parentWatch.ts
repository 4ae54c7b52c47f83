import { readFileSync } from "node:fs";

/** The parent pid of `pid` from /proc (Linux), or undefined where there is no /proc. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Calls `onGone` once when this process's parent or grandparent exits. Under `npm run`, the chain
 * is npm → sh → tsx → this: a SIGTERM to npm ends sh, which forwards nothing, so without this
 * watch tsx, workerd and the stand-in bridge would live on as orphans.
 */
export function whenLauncherExits(onGone: () => void, intervalMs = 500): void {
  const watched = [process.ppid, parentOf(process.ppid)].filter(
    (pid): pid is number => pid !== undefined && pid > 1,
  );
  const timer = setInterval(() => {
    if (watched.every(alive)) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  timer.unref();
}
