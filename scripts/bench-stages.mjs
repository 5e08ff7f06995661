#!/usr/bin/env node
// npm run bench:stages: where one `return 1 + 1` execution's time goes, stage by stage (scripts/bench-stages/).
// Starts `wrangler dev` with the service's wrangler.jsonc but scripts/bench-stages/index.ts as main (random
// loopback port, throw-away migrated state), asks it for BENCH_STAGE_ROUNDS profiles after two warm-up rounds,
// prints the median of each stage in microseconds, and stops what it started.

import { join } from "node:path";
import { ROOT, startLocalService } from "./local-service.mjs";

const ROUNDS = Number(process.env.BENCH_STAGE_ROUNDS ?? 5);
const WARMUP_ROUNDS = 2;

const service = await startLocalService({
  label: "bench-stages",
  config: join(ROOT, "wrangler.jsonc"),
  // After a scalar flag: wrangler's --var (an array option, set by startLocalService) would swallow the script.
  args: ["--log-level", "warn", join(ROOT, "scripts", "bench-stages", "index.ts")],
  ready: { path: "/" },
});
try {
  const rounds = [];
  for (let i = 0; i < WARMUP_ROUNDS + ROUNDS; i++) {
    const response = await fetch(`${service.url}/`, { method: "POST", signal: AbortSignal.timeout(120_000) });
    if (!response.ok) throw new Error(`the profile answered ${response.status}: ${(await response.text()).slice(0, 2000)}`);
    if (i >= WARMUP_ROUNDS) rounds.push(await response.json());
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`\nPer stage, one \`return 1 + 1\` execution: median of ${ROUNDS} rounds of each stage's median (µs)`);
  console.table(Object.keys(rounds[0]).map((stage) => ({ stage, "µs": median(rounds.map((round) => round[stage])) })));
} finally {
  await service.stop();
}
