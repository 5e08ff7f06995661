#!/usr/bin/env node
// npm run bench:stages: where one `return 1 + 1` execution's time goes, stage by stage (scripts/bench-stages/).
// Starts `wrangler dev` with the service's wrangler.jsonc but scripts/bench-stages/index.ts as main (random
// loopback port, throw-away migrated state). For each stage, one request runs it many times; the CPU time of the
// runtime's processes (/proc, all of wrangler's process group) is read around it, less the CPU of a request that
// runs nothing, and divided by the calls. Medians over BENCH_STAGE_ROUNDS rounds (after one warm-up round), in
// µs per call: CPU, and wall time as the Worker saw it. Stops what it started.

import { join } from "node:path";
import { cpuMsOfGroup } from "./bench-cpu.mjs";
import { ROOT, startLocalService } from "./local-service.mjs";

const ROUNDS = Number(process.env.BENCH_STAGE_ROUNDS ?? 5);
const WARMUP_ROUNDS = 1;

const service = await startLocalService({
  label: "bench-stages",
  config: join(ROOT, "wrangler.jsonc"),
  // After a scalar flag: wrangler's --var (an array option, set by startLocalService) would swallow the script.
  args: ["--log-level", "warn", join(ROOT, "scripts", "bench-stages", "index.ts")],
  ready: { path: "/" },
});
try {
  const stages = await (await fetch(`${service.url}/`)).json();
  const cpu = stages.map(() => []);
  const wall = stages.map(() => []);
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    for (let i = 0; i < stages.length; i++) {
      const before = cpuMsOfGroup(service.proc.pid);
      const response = await fetch(`${service.url}/?stage=${i}`, { method: "POST", signal: AbortSignal.timeout(120_000) });
      if (!response.ok) throw new Error(`stage ${stages[i].name} answered ${response.status}: ${(await response.text()).slice(0, 2000)}`);
      const { wallMs } = await response.json();
      if (round < WARMUP_ROUNDS) continue;
      cpu[i].push(cpuMsOfGroup(service.proc.pid) - before);
      wall[i].push(wallMs);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const nothingCpuMs = median(cpu[0]);
  console.log(`\nPer stage of one \`return 1 + 1\` execution, µs per call (median of ${ROUNDS} rounds)`);
  console.table(
    stages.slice(1).map((stage, index) => ({
      stage: stage.name,
      calls: stage.iterations,
      "CPU µs": Math.round(((median(cpu[index + 1]) - nothingCpuMs) / stage.iterations) * 1000),
      "wall µs": Math.round(median(wall[index + 1]) * 1000),
    })),
  );
} finally {
  await service.stop();
}
