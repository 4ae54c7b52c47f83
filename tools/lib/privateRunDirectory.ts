/**
 * The local guard's run folder and runtime socket sit at a path known from the port alone (so
 * `--drain --port <p>` finds them) in a shared temporary directory: anyone could have made that
 * path first. A folder is trusted only when this user owns it and nobody else can enter it; a
 * socket only when this user (or root, who made /run/haproxy's) owns it and nobody else can
 * connect to it.
 */
import { lstatSync, mkdirSync, type Stats } from "node:fs";

const ownerOf = (stats: Stats) => `uid ${stats.uid}`;
const thisUser = () => process.getuid?.() ?? -1;
const mode = (stats: Stats) => (stats.mode & 0o777).toString(8).padStart(3, "0");

function statsOf(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** What is wrong with `path` as this user's private folder; undefined when nothing is (or it does not exist: see `exists`). */
export function privateDirectoryProblem(path: string): string | undefined {
  const stats = statsOf(path);
  if (!stats) return undefined;
  if (stats.isSymbolicLink()) return "is a symbolic link, not a folder";
  if (!stats.isDirectory()) return "is not a folder";
  if (stats.uid !== thisUser())
    return `belongs to ${ownerOf(stats)}, not to this user (uid ${thisUser()})`;
  if (stats.mode & 0o077)
    return `is mode ${mode(stats)}: others may enter it (a guard's own folder is mode 700)`;
  return undefined;
}

/** What is wrong with `path` as the runtime socket of a guard this user may trust. */
export function socketProblem(path: string): string | undefined {
  const stats = statsOf(path);
  if (!stats) return "does not exist";
  if (!stats.isSocket()) return "is not a socket";
  if (stats.uid !== thisUser() && stats.uid !== 0)
    return `belongs to ${ownerOf(stats)}, not to this user (uid ${thisUser()}) or root`;
  if (stats.mode & 0o077)
    return `is mode ${mode(stats)}: others may connect to it (a guard's socket is mode 600)`;
  return undefined;
}

export const exists = (path: string) => statsOf(path) !== undefined;

/**
 * Creates `path` as a new folder of this user's, mode 700; throws a one-line Error naming the path
 * when it already exists (someone made it since it was checked) or comes out otherwise.
 */
export function createPrivateDirectory(path: string): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === "EEXIST"
        ? `run folder ${path} appeared while the guard started: not created by this guard`
        : `cannot create the run folder ${path} (${code ?? (error as Error).message})`,
    );
  }
  const problem = privateDirectoryProblem(path);
  if (problem) throw new Error(`run folder ${path} ${problem}`);
}
