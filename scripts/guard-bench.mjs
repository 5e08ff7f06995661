// The guard's cost and its reaction time: sandbox-template/guard.js against a baseline version from git
// (GUARD_BENCH_BASELINE, default 4bcb576: the fixed clock read every 1 024 checks), each loaded into fresh
// isolates of a local workerd (scripts/guard-bench/, started on a random loopback port and stopped), runs
// interleaved so background load hits both alike.
//   checks/ms         a tight loop whose body is only the guard check, as instrument.ts emits it
//   ms past deadline  a loop of expensive iterations (a.join over 2e5 holes, about 1 ms each) against a 100 ms
//                     deadline: from the first iteration, and after a million cheap ones (the guard then reads
//                     the clock least often). Longer blocks make local wrangler dev drop its runtime connection.
// Knobs: GUARD_BENCH_ROUNDS (default 15), GUARD_BENCH_LOOP_MS (default 200).

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT, startLocalService } from "./local-service.mjs";

const ROUNDS = Number(process.env.GUARD_BENCH_ROUNDS ?? 15);
const LOOP_MS = Number(process.env.GUARD_BENCH_LOOP_MS ?? 200);
const BASELINE = process.env.GUARD_BENCH_BASELINE ?? "4bcb576";
const GUARD_PATH = "sandbox-template/guard.js";

const versions = {
  baseline: execFileSync("git", ["show", `${BASELINE}:${GUARD_PATH}`], { cwd: ROOT, encoding: "utf8" }),
  current: readFileSync(path.join(ROOT, GUARD_PATH), "utf8"),
};

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// Local wrangler dev now and then loses its connection to the runtime under load ("Network connection lost."):
// such a measurement is taken again, and said so.
async function measure(url, body, attempts = 3) {
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  if (response.ok) return response.json();
  const text = await response.text();
  if (attempts <= 1) throw new Error(`guard bench answered ${response.status}: ${text}`);
  console.error(`retrying a ${body.kind} measurement after: ${response.status} ${text.split("\n")[0]}`);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  return measure(url, body, attempts - 1);
}

const service = await startLocalService({
  label: "guard-bench",
  config: path.join(ROOT, "scripts", "guard-bench", "wrangler.jsonc"),
  migrate: false,
  ready: { path: "/" },
  args: ["--log-level", "warn"],
});
try {
  /** @type {Record<string, { rates: number[], steady: number[], afterCheap: number[] }>} */
  const results = { baseline: { rates: [], steady: [], afterCheap: [] }, current: { rates: [], steady: [], afterCheap: [] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, guardSource] of Object.entries(versions)) {
      const { checksPerMs } = await measure(service.url, { guardSource, kind: "tight", loopMs: LOOP_MS });
      results[name].rates.push(checksPerMs);
      if (round % 3 === 0) {
        results[name].steady.push((await measure(service.url, { guardSource, kind: "expensive", warmupChecks: 0 })).pastDeadlineMs);
        results[name].afterCheap.push((await measure(service.url, { guardSource, kind: "expensive", warmupChecks: 1e6 })).pastDeadlineMs);
      }
    }
  }
  console.log(`guard checks per ms in a tight loop (${ROUNDS} runs of ${LOOP_MS} ms each, interleaved), and ms past a 100 ms deadline`);
  console.log("| guard | checks/ms best | median | worst | expensive loop: past deadline, median (worst) | after 1e6 cheap checks |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const [name, r] of Object.entries(results)) {
    const label = name === "baseline" ? `baseline (${BASELINE})` : "current";
    console.log(
      `| ${label} | ${Math.round(Math.max(...r.rates))} | ${Math.round(median(r.rates))} | ${Math.round(Math.min(...r.rates))} ` +
        `| ${median(r.steady)} (${Math.max(...r.steady)}) | ${median(r.afterCheap)} (${Math.max(...r.afterCheap)}) |`,
    );
  }
} catch (error) {
  console.error(`wrangler's last output:\n${service.output().slice(-3000)}`);
  throw error;
} finally {
  await service.stop();
}
