#!/usr/bin/env node
// npm run bench:stages: where one `return 1 + 1` execution's time goes, stage by stage (scripts/bench-stages/).
// Starts `wrangler dev` with the service's wrangler.jsonc but scripts/bench-stages/index.ts as main (random
// loopback port, throw-away migrated state). For each stage, one request runs it many times; the CPU time of the
// runtime's processes (/proc, all of wrangler's process group) is read around it, less the CPU of a request that
// runs nothing, and divided by the calls. Medians over BENCH_STAGE_ROUNDS rounds (after one warm-up round), in
// µs per call: CPU, and wall time as the Worker saw it. With BENCH_BASELINE (another checkout with node_modules,
// e.g. `git worktree add /tmp/base main`), its service is started too, with this checkout's stage file, and every
// stage is run on both in turn, so before/after compare in one run under the same background load. Stops what it
// started.

import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { cpuMsOfGroup } from "./bench-cpu.mjs";
import { ROOT, startLocalService } from "./local-service.mjs";

const ROUNDS = Number(process.env.BENCH_STAGE_ROUNDS ?? 5);
const WARMUP_ROUNDS = 1;
const BASELINE_DIR = process.env.BENCH_BASELINE;
/** A regular expression: only the stages whose names match it are run (all by default). */
const STAGE_FILTER = new RegExp(process.env.BENCH_STAGES ?? "", "i");

/** Starts the stage Worker of the checkout at `root` (its own service modules, this checkout's stage file). */
async function startStages(root, label) {
  if (root !== ROOT) copyFileSync(join(ROOT, "scripts", "bench-stages", "index.ts"), join(root, "scripts", "bench-stages", "index.ts"));
  return startLocalService({
    label,
    config: join(root, "wrangler.jsonc"),
    // After a scalar flag: wrangler's --var (an array option, set by startLocalService) would swallow the script.
    args: ["--log-level", "warn", join(root, "scripts", "bench-stages", "index.ts")],
    ready: { path: "/" },
  });
}

const services = [{ name: "this checkout", service: await startStages(ROOT, "bench-stages") }];
try {
  if (BASELINE_DIR) services.push({ name: "baseline", service: await startStages(BASELINE_DIR, "bench-stages-baseline") });
  const stages = await (await fetch(`${services[0].service.url}/`)).json();
  // Stage 0 (a request that runs nothing) is always run: every other stage is measured against it.
  const selected = stages.map((stage, i) => i === 0 || STAGE_FILTER.test(stage.name));
  const samples = services.map(() => ({ cpu: stages.map(() => []), wall: stages.map(() => []) }));
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    for (let i = 0; i < stages.length; i++) {
      if (!selected[i]) continue;
      for (const [s, { service }] of services.entries()) {
        const before = cpuMsOfGroup(service.proc.pid);
        const response = await fetch(`${service.url}/?stage=${i}`, { method: "POST", signal: AbortSignal.timeout(120_000) });
        if (!response.ok) throw new Error(`stage ${stages[i].name} answered ${response.status}: ${(await response.text()).slice(0, 2000)}`);
        const { wallMs } = await response.json();
        if (round < WARMUP_ROUNDS) continue;
        samples[s].cpu[i].push(cpuMsOfGroup(service.proc.pid) - before);
        samples[s].wall[i].push(wallMs);
      }
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const cpuUs = (s, i) => Math.round(((median(samples[s].cpu[i]) - median(samples[s].cpu[0])) / stages[i].iterations) * 1000);
  const wallUs = (s, i) => Math.round(median(samples[s].wall[i]) * 1000);
  console.log(`\nPer stage of one \`return 1 + 1\` execution, µs per call (median of ${ROUNDS} rounds)`);
  console.table(
    stages.flatMap((stage, i) => {
      if (i === 0 || !selected[i]) return [];
      const row = { stage: stage.name, calls: stage.iterations, "CPU µs": cpuUs(0, i), "wall µs": wallUs(0, i) };
      return [services.length > 1 ? { ...row, "baseline CPU µs": cpuUs(1, i), "baseline wall µs": wallUs(1, i) } : row];
    }),
  );
} finally {
  await Promise.all(services.map(({ service }) => service.stop()));
}
