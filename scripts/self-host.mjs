#!/usr/bin/env node
// The front Worker on plain workerd, without wrangler at run time (README, "Self-hosting on workerd").
//
//   node scripts/self-host.mjs --state /var/lib/code-exec [--out self-host] [--ip 127.0.0.1] [--port 8787] [--plane 127.0.0.1:8790]
//
// writes OUT/front.capnp and everything it embeds, so `workerd serve --experimental OUT/front.capnp` is the whole
// front, and migrates the D1 databases under STATE. Wrangler is used as a build tool only, as for a deploy:
//   - `wrangler deploy --dry-run --outdir OUT/bundle` bundles the Worker (the same bundle `npm run deploy` ships);
//   - `wrangler d1 migrations apply --local --persist-to STATE` creates and migrates the databases.
// D1 on plain workerd is miniflare's own D1 emulation (a SQLite-backed Durable Object, the code `wrangler dev`
// runs), copied from node_modules/miniflare into OUT/d1/, so the files under STATE are the ones `wrangler dev
// --persist-to STATE` reads and writes: one state directory serves both runtimes, and this script's migrations
// are exactly wrangler's. Sessions' Durable Objects live under STATE too, as with wrangler.
//
// At run time the config reads API_KEYS, SERVICE_HOSTNAMES, ALLOWED_ORIGINS, AI_BASE_URL and AI_API_KEY from the
// environment (so no secret is written into the config); every other var is wrangler.jsonc's. Children always
// run in the sandbox plane (plain workerd limits no isolate's CPU or memory, so the front must never run user
// code): the plane is the config's `plane` service, at --plane (default 127.0.0.1:8790) or `-e plane=HOST:PORT`.
// Plain workerd runs no cron triggers, so the daily retention sweep does not run there (README).

import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { applyLocalMigrations, CHILD_ENV, ROOT, WRANGLER } from "./local-service.mjs";
import { LANGUAGE_ASSETS, WORKERD } from "./sandbox-plane.mjs";

/** miniflare's worker sources, under ROOT (a function: local-service.mjs, which defines ROOT, imports this module). */
const miniflareWorkers = () => path.join(ROOT, "node_modules", "miniflare", "dist", "src", "workers");
/** The vars a deployment sets itself; read from the environment at run time, never written into the config. */
export const FROM_ENVIRONMENT = ["API_KEYS", "SERVICE_HOSTNAMES", "ALLOWED_ORIGINS", "AI_BASE_URL", "AI_API_KEY"];
/** Where the front finds the plane unless `-e plane=HOST:PORT` says otherwise at run time. */
export const DEFAULT_PLANE_ADDRESS = "127.0.0.1:8790";
/** Keep in sync with wrangler.jsonc: the D1 emulation names each database's Durable Object by its database_id. */
const D1_UNIQUE_KEY = "miniflare-D1DatabaseObject";
/** Local workerd loses its runtime under many D1 queries in flight, as wrangler dev does (LOCAL_VARS). */
const HISTORY_WRITES_IN_FLIGHT = "4";

/**
 * @param {{ state: string, out?: string, ip?: string, port?: number, plane?: string, migrate?: boolean }} options
 * @returns {Promise<{ config: string, out: string }>}
 */
export async function buildSelfHostedFront(options) {
  // Imported here, not at the top: local-service.mjs imports this module, and every local script would load it.
  const { unstable_readConfig } = await import("wrangler");
  const out = path.resolve(options.out ?? path.join(ROOT, "self-host"));
  const state = path.resolve(options.state);
  const wrangler = unstable_readConfig({ config: path.join(ROOT, "wrangler.jsonc") });
  // The output is rebuilt from scratch, so it must be this script's own: never a directory it did not write.
  if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(path.join(out, "front.capnp"))) {
    throw new Error(`${out} is not empty and holds no front.capnp: refusing to replace it (choose another --out)`);
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(path.join(out, "d1"), { recursive: true });
  // workerd refuses to start on a disk service whose directory is missing; empty, Python runs fail clearly.
  mkdirSync(LANGUAGE_ASSETS, { recursive: true });
  mkdirSync(path.join(state, "v3", "d1"), { recursive: true });
  mkdirSync(path.join(state, "v3", "do"), { recursive: true });

  const bundled = spawnSync(WRANGLER, ["deploy", "--dry-run", "--outdir", path.join(out, "bundle")], {
    cwd: ROOT,
    env: { ...CHILD_ENV, CI: "true" },
    encoding: "utf8",
  });
  if (bundled.status !== 0) throw new Error(`bundling the front failed:\n${bundled.stdout}\n${bundled.stderr}`);
  if (options.migrate !== false) applyLocalMigrations({ persistTo: state });

  for (const [from, to] of [
    ["d1/database.worker.js", "d1/database.worker.js"],
    ["shared/object-entry.worker.js", "d1/object-entry.worker.js"],
    ["shared/index.worker.js", "d1/shared.worker.js"],
    ["shared/zod.worker.js", "d1/zod.worker.js"],
  ]) {
    copyFileSync(path.join(miniflareWorkers(), from), path.join(out, to));
  }

  const config = path.join(out, "front.capnp");
  writeFileSync(config, frontConfig({ wrangler, out, state, ip: options.ip ?? "127.0.0.1", port: options.port ?? 8787, plane: options.plane ?? DEFAULT_PLANE_ADDRESS }));
  return { config, out };
}

/** A capnp text literal. */
const text = (value) => JSON.stringify(String(value));

/** The bundle's modules as wrangler wrote them: index.js, and the files its rules made Text or CompiledWasm. */
function bundleModules(bundleDir) {
  const modules = [];
  for (const file of readdirSync(bundleDir).sort()) {
    if (file.endsWith(".map") || file === "README.md") continue;
    const embed = `embed ${text(`bundle/${file}`)}`;
    if (file === "index.js") modules.unshift(`(name = "index.js", esModule = ${embed})`);
    else if (file.endsWith(".wasm")) modules.push(`(name = ${text(file)}, wasm = ${embed})`);
    else if (/\.(js|html|py)$/.test(file)) modules.push(`(name = ${text(file)}, text = ${embed})`);
    else throw new Error(`the bundle has a module of a kind this config does not know: ${file}`);
  }
  return modules;
}

function frontConfig({ wrangler, out, state, ip, port, plane }) {
  // The URL's host is a placeholder: requests go to the `plane` service whatever it says.
  const vars = Object.entries({ ...wrangler.vars, HISTORY_WRITES_IN_FLIGHT, SANDBOX_PLANE_URL: "http://plane" })
    .filter(([name]) => !FROM_ENVIRONMENT.includes(name))
    .map(([name, value]) => `(name = ${text(name)}, text = ${text(value)})`);
  for (const name of FROM_ENVIRONMENT) vars.push(`(name = ${text(name)}, fromEnvironment = ${text(name)})`);
  const databases = wrangler.d1_databases.map(
    (db) =>
      `(name = ${text(db.binding)}, wrapped = (moduleName = "cloudflare-internal:d1-api", innerBindings = [` +
      `(name = "fetcher", service = (name = "d1-entry", props = (json = ${text(JSON.stringify({ MINIFLARE_NAMESPACE: db.database_id }))})))]))`,
  );
  const sessions = wrangler.durable_objects.bindings.map(
    (binding) => `(name = ${text(binding.name)}, durableObjectNamespace = (className = ${text(binding.class_name)}))`,
  );
  // wrangler dev's unique key for a class (worker name, class name), so sessions stored by either runtime are found.
  const objects = wrangler.durable_objects.bindings.map(
    (binding) => `(className = ${text(binding.class_name)}, uniqueKey = ${text(`${wrangler.name}-${binding.class_name}`)}, enableSql = true)`,
  );
  const flags = wrangler.compatibility_flags.map(text).join(", ");
  return `# The code-exec front on plain workerd: generated by scripts/self-host.mjs from wrangler.jsonc and the bundle
# \`wrangler deploy --dry-run\` writes. Regenerate it after every change to the Worker. Run it with
#   workerd serve --experimental ${path.join(out, "front.capnp")} [-s http=HOST:PORT] [-e plane=HOST:PORT]
# next to a sandbox plane (node scripts/sandbox-plane.mjs --front 127.0.0.1:${port} --port ${plane.split(":").at(-1)}). Children always
# run on the plane. --experimental is for the Worker Loader. State (D1's SQLite files, sessions' Durable Objects):
# ${state}
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "front", worker = .front),
    (name = "d1-entry", worker = .d1Entry),
    (name = "d1-database", worker = .d1Database),
    (name = "d1-storage", disk = (path = ${text(path.join(state, "v3", "d1"))}, writable = true)),
    (name = "do-storage", disk = (path = ${text(path.join(state, "v3", "do"))}, writable = true)),
    # Python's files, the directory wrangler serves as the front's ASSETS.
    (name = "language-assets", disk = (path = ${text(LANGUAGE_ASSETS)}, writable = false)),
    # The front's own fetches, which are then api() calls only: public addresses, whatever a name resolves to, so a
    # caller's allowedDomains entry that resolves to this machine or its network reaches nothing (url-policy.ts
    # refuses such names too). Stricter than wrangler dev, whose outbound also allows private addresses.
    (name = "internet", network = (allow = ["public"], tlsOptions = (trustBrowserCas = true))),
    # ai()'s calls to AI_BASE_URL (AI_OUTBOUND), which the operator chose: a model server on this machine or its
    # network is the usual one.
    (name = "operator-network", network = (allow = ["public", "private", "local"], tlsOptions = (trustBrowserCas = true))),
    # The sandbox plane, reached through its own binding (SANDBOX_PLANE), not through "internet"; the dispatcher's
    # address: workerd serve ... -e plane=HOST:PORT.
    (name = "plane", external = (address = ${text(plane)}, http = ())),
  ],
  sockets = [(name = "http", address = ${text(`${ip.includes(":") ? `[${ip}]` : ip}:${port}`)}, http = (), service = "front")],
  extensions = [(modules = [
    (name = "miniflare:shared", esModule = embed "d1/shared.worker.js"),
    (name = "miniflare:zod", esModule = embed "d1/zod.worker.js"),
  ])],
);

const front :Workerd.Worker = (
  modules = [
    ${bundleModules(path.join(out, "bundle")).join(",\n    ")},
  ],
  compatibilityDate = ${text(wrangler.compatibility_date)},
  compatibilityFlags = [${flags}],
  bindings = [
    ${[...vars, ...databases, ...sessions, '(name = "ASSETS", service = "language-assets")', '(name = "LOADER", workerLoader = ())', '(name = "SANDBOX_PLANE", service = "plane")', '(name = "AI_OUTBOUND", service = "operator-network")'].join(",\n    ")},
  ],
  durableObjectNamespaces = [${objects.join(", ")}],
  durableObjectStorage = (localDisk = "do-storage"),
  globalOutbound = "internet",
);

# miniflare's D1 emulation, as wrangler dev runs it: each database is a SQLite-backed Durable Object named by its
# database_id, so its file under the state directory is the one \`wrangler d1 migrations apply --local\` migrated.
const d1Entry :Workerd.Worker = (
  modules = [(name = "object-entry.worker.js", esModule = embed "d1/object-entry.worker.js")],
  compatibilityDate = "2023-07-24",
  bindings = [(name = "MINIFLARE_OBJECT", durableObjectNamespace = (serviceName = "d1-database", className = "D1DatabaseObject"))],
);

const d1Database :Workerd.Worker = (
  modules = [(name = "database.worker.js", esModule = embed "d1/database.worker.js")],
  compatibilityDate = "2023-07-24",
  compatibilityFlags = ["nodejs_compat", "experimental"],
  durableObjectNamespaces = [(className = "D1DatabaseObject", uniqueKey = ${text(D1_UNIQUE_KEY)})],
  durableObjectStorage = (localDisk = "d1-storage"),
  bindings = [(name = "MINIFLARE_BLOBS", service = "d1-storage")],
);
`;
}

/**
 * Starts the built front in its own process group (a stop takes nothing else); `env` may set only the
 * FROM_ENVIRONMENT vars.
 * @param {string} config
 * @param {Record<string, string>} [env]
 */
export function spawnSelfHostedFront(config, env = {}) {
  for (const name of Object.keys(env)) {
    if (!FROM_ENVIRONMENT.includes(name)) throw new Error(`the self-hosted front takes ${name} from its config, not from the environment`);
  }
  return spawn(WORKERD, ["serve", "--experimental", config], {
    cwd: ROOT,
    env: { ...CHILD_ENV, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { state: { type: "string" }, out: { type: "string" }, ip: { type: "string" }, port: { type: "string" }, plane: { type: "string" } },
  });
  if (!values.state) {
    console.error("usage: node scripts/self-host.mjs --state DIR [--out DIR] [--ip ADDRESS] [--port N] [--plane HOST:PORT]");
    process.exit(2);
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65_536)) {
    console.error(`--port must be a TCP port number, got ${values.port}`);
    process.exit(2);
  }
  if (values.plane !== undefined && !/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(values.plane)) {
    console.error(`--plane must be HOST:PORT, got ${values.plane}`);
    process.exit(2);
  }
  const { config } = await buildSelfHostedFront({
    state: values.state,
    out: values.out,
    ip: values.ip,
    port,
    plane: values.plane,
  }).catch((error) => {
    console.error(`self-host: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  });
  console.log(`wrote ${path.relative(process.cwd(), config)}; migrated the databases under ${path.resolve(values.state)}`);
}
