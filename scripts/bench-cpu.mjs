// CPU time of a process group, for the bench scripts: wrangler dev and both of its workerd processes share one
// (scripts/local-service.mjs starts it detached), so this is everything a local service spends.

import { readdirSync, readFileSync } from "node:fs";

/** USER_HZ: /proc reports CPU time in ticks of 10 ms on Linux. */
const TICK_MS = 10;

/** User + system CPU time of every process in process group `pgid`, from /proc, in ms. */
export function cpuMsOfGroup(pgid) {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // After the command name (which may contain spaces): state ppid pgrp ... utime (14th field) stime (15th).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * TICK_MS;
}
