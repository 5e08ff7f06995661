// Starting and stopping a local code-exec (or any wrangler project) for the scripts: dev, bench, load and e2e.
// One place knows how: wrangler from node_modules (it needs the Node 22 the `node` devDependency provides), the
// local D1 migrations, the local-only vars, a random free loopback port, readiness, and a stop that takes down
// wrangler and both of its workerd processes.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { startSandboxPlane } from "./sandbox-plane.mjs";
import { buildSelfHostedFront, spawnSelfHostedFront } from "./self-host.mjs";

export const ROOT = path.resolve(import.meta.dirname, "..");
export const BIN = path.join(ROOT, "node_modules", ".bin");
export const WRANGLER = path.join(BIN, "wrangler");
/**
 * What wrangler (and so every local run: dev, bench, load, e2e) gets. Wrangler's local trace collector
 * (X_LOCAL_OBSERVABILITY) is off unless asked for: it feeds only wrangler's local explorer (console output reaches
 * the terminal either way; Workers Logs in production is wrangler.jsonc "observability", unaffected), and it
 * costs every Worker in the process CPU per span: ~0.4 ms per D1 query, 0.6 ms per bare fresh isolate (README
 * "Benchmarks"). X_LOCAL_OBSERVABILITY=true turns it back on.
 */
export const CHILD_ENV = {
  ...process.env,
  PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ""}`,
  WRANGLER_SEND_METRICS: "false",
  X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false",
};

/** The service's local D1 databases (wrangler.jsonc), migrated before it starts. */
export const LOCAL_DATABASES = ["EXECUTIONS_DB", "DATA_DB"];

/** Caps history writes in flight: local wrangler dev loses its runtime under many (worker/history/write-slots.ts). */
export const LOCAL_VARS = ["--var", "HISTORY_WRITES_IN_FLIGHT:4"];

const OUTPUT_KEPT_CHARS = 50_000;

/**
 * Applies the local migrations of every database; `persistTo` and `config` as for wrangler.
 * @param {{ persistTo?: string, config?: string }} [where]
 */
export function applyLocalMigrations({ persistTo, config } = {}) {
  for (const binding of LOCAL_DATABASES) {
    const result = spawnSync(
      WRANGLER,
      ["d1", "migrations", "apply", binding, "--local", ...(config ? ["--config", config] : []), ...(persistTo ? ["--persist-to", persistTo] : [])],
      // CI=true: wrangler asks no questions.
      { cwd: ROOT, env: { ...CHILD_ENV, CI: "true" }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    if (result.status !== 0) throw new Error(`migrating ${binding} failed:\n${result.stdout}\n${result.stderr}`);
  }
}

/** A script's --runtime value (startLocalService's `runtime`), checked: anything else ends the script with 2. */
export function runtimeFlag(raw) {
  if (raw === "wrangler" || raw === "workerd") return raw;
  console.error(`--runtime must be wrangler or workerd, got ${raw}`);
  process.exit(2);
}

/** A loopback port nothing listens on right now. */
export async function freePort() {
  for (;;) {
    const port = 18_000 + Math.floor(Math.random() * 2_000);
    const free = await new Promise((resolve) => {
      const server = createServer().once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/**
 * Starts `wrangler dev` on a free loopback port with throw-away state (migrated unless `migrate` is false) and
 * waits until `ready` answers 2xx. `devConfigs` replaces `config` on wrangler's command line (a caller Worker
 * first, then the service it binds to).
 * @param {{
 *   label?: string,
 *   config?: string,
 *   devConfigs?: string[],
 *   migrate?: boolean,
 *   vars?: Record<string, string>,
 *   args?: string[],
 *   ready?: { path: string, method?: string },
 *   startupDeadlineMs?: number,
 *   keepState?: boolean,
 *   stateDir?: string,
 *   onOutput?: (chunk: string) => void,
 *   plane?: { hosts?: number, slotsPerHost?: number, log?: (message: string) => void },
 *   runtime?: "wrangler" | "workerd",
 * }} [options]  plane: run children in a sandbox plane (scripts/sandbox-plane.mjs) instead of in-process.
 *   runtime "workerd": the front on plain workerd as self-hosted (scripts/self-host.mjs: built into the state
 *   directory; wrangler.jsonc only, always with a plane; vars only those it reads from the environment), not
 *   under wrangler dev.
 */
export async function startLocalService(options = {}) {
  // freePort() only shows a port was free a moment ago: another process (or a socket of an earlier run that the
  // runtime's own bind refuses) can hold it when workerd binds. That start is retried on other ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS || !String(error?.message).includes("Address already in use")) throw error;
      console.error(`${options.label ?? "service"}: a port was taken while wrangler dev started; retrying on others`);
    }
  }
}

const PORT_ATTEMPTS = 3;

async function startOnce(options) {
  const { label = "service", config, migrate = true, vars = {}, args = [], ready = { path: "/health" } } = options;
  // Several configs make one multi-worker dev session (the first one answers HTTP); migrations still use `config`.
  const devConfigs = options.devConfigs ?? (config ? [config] : []);
  // A given stateDir is the caller's (e.g. two runs sharing one, to check survival across a restart): kept.
  const stateDir = options.stateDir ?? mkdtempSync(path.join(tmpdir(), `code-exec-${label}-`));
  if (migrate) applyLocalMigrations({ persistTo: stateDir, config });
  const port = await freePort();
  const inspectorPort = await freePort();
  const plane = options.plane ? await startSandboxPlane({ front: `127.0.0.1:${port}`, ...options.plane }) : undefined;
  const allVars = plane ? { ...vars, SANDBOX_PLANE_URL: plane.url } : vars;
  const varArgs = Object.entries(allVars).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  const runtime = options.runtime ?? "wrangler";
  if (runtime === "workerd" && (config || options.devConfigs || args.length > 0 || !plane)) {
    throw new Error(`${label}: the self-hosted front runs wrangler.jsonc as it is, on a sandbox plane`);
  }
  const proc = runtime === "workerd"
    ? spawnSelfHostedFront(
        (await buildSelfHostedFront({ state: stateDir, out: path.join(stateDir, "front"), port, plane: new URL(plane.url).host, migrate: false })).config,
        vars,
      )
    : spawn(
    WRANGLER,
    [
      "dev",
      ...devConfigs.flatMap((file) => ["--config", file]),
      "--port", String(port),
      "--ip", "127.0.0.1",
      "--inspector-port", String(inspectorPort),
      "--persist-to", stateDir,
      "--show-interactive-dev-session=false",
      ...LOCAL_VARS,
      ...varArgs,
      ...args,
    ],
    // Own process group: stopping it takes down wrangler and both workerd processes, and nothing else.
    { cwd: ROOT, env: CHILD_ENV, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  // A script that exits without stop() (an uncaught error, process.exit, an event loop that ran dry) must not
  // leave wrangler's workerd processes behind: re-parented to init, two of them were seen spinning at ~60 % of a
  // core each until killed. (A script killed by a signal still can; its own handler has to call stop().)
  const killGroup = (signal) => {
    try {
      process.kill(-proc.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const killGroupOnExit = () => killGroup("SIGKILL");
  process.once("exit", killGroupOnExit);
  let output = "";
  for (const stream of [proc.stdout, proc.stderr]) {
    stream.on("data", (chunk) => {
      const text = chunk.toString();
      output = (output + text).slice(-OUTPUT_KEPT_CHARS);
      options.onOutput?.(text);
    });
  }
  const url = `http://127.0.0.1:${port}`;
  const service = {
    url,
    proc,
    stateDir,
    plane,
    /** wrangler's inspector (DevTools protocol) for the service's Worker: scripts that profile it. */
    inspectorPort,
    output: () => output,
    /** SIGTERM to the group, SIGKILL if it lingers; then the state is removed unless kept. */
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((resolve) => proc.once("exit", resolve));
        killGroup("SIGTERM");
        const timer = setTimeout(() => killGroup("SIGKILL"), 3_000);
        await exited;
        clearTimeout(timer);
      }
      // Also when wrangler had already exited: its workerd processes may not have.
      killGroupOnExit();
      process.removeListener("exit", killGroupOnExit);
      await plane?.stop();
      if (options.keepState) console.log(`${label}: state kept in ${stateDir}`);
      else if (options.stateDir === undefined) rmSync(stateDir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + (options.startupDeadlineMs ?? 90_000);
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    try {
      const response = await fetch(`${url}${ready.path}`, { method: ready.method ?? "GET", signal: AbortSignal.timeout(5_000) });
      if (response.ok) return service;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await service.stop();
  throw new Error(`${label}: wrangler dev did not answer ${ready.path}:\n${output.slice(-3000)}`);
}
