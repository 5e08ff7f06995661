// The process tree under a pid, from /proc (Linux): which workerd processes a local service or a supervisor
// started (scripts/load.mjs samples their memory; scripts/self-host-test.mjs kills one).

import { readdirSync, readFileSync } from "node:fs";

/** Every process's parent, by pid. */
function parentsByPid() {
  const table = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name is in parentheses and may contain spaces; the parent pid is the second field after it.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      table.set(Number(entry), ppid);
    } catch {
      // Exited while we looked.
    }
  }
  return table;
}

/** The descendants of `rootPid` that are still running, each with its command line. */
export function descendantsOf(rootPid) {
  const table = parentsByPid();
  const descendants = [];
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.shift();
    for (const [child, parent] of table) {
      if (parent === pid) {
        descendants.push(child);
        queue.push(child);
      }
    }
  }
  return descendants.flatMap((pid) => {
    try {
      return [{ pid, cmdline: readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0") }];
    } catch {
      return []; // exited meanwhile
    }
  });
}
