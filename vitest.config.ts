import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// The project name fixes the runner's service name, which the caller worker binds to below.
const PROJECT = "code-exec";
const RUNNER_SERVICE = `vitest-pool-workers-runner-${PROJECT}`;

export default defineConfig(async () => {
  const executionsMigrations = await readD1Migrations(path.join(import.meta.dirname, "migrations/executions"));
  const dataMigrations = await readD1Migrations(path.join(import.meta.dirname, "migrations/data"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.jsonc" },
        miniflare: {
          bindings: { TEST_EXECUTIONS_MIGRATIONS: executionsMigrations, TEST_DATA_MIGRATIONS: dataMigrations },
          serviceBindings: { CALLER: { name: "caller" } },
          workers: [
            {
              name: "caller",
              modules: true,
              scriptPath: path.join(import.meta.dirname, "examples/caller-worker/index.js"),
              compatibilityDate: "2026-08-01",
              serviceBindings: { CODE_EXEC: { name: RUNNER_SERVICE, entrypoint: "CodeExecutor" } },
            },
          ],
        },
      }),
    ],
    // worker/http/playground.html is a Text module (wrangler.jsonc "rules"); this keeps vite from pre-transforming
    // it as an HTML entry before the pool's module rules load it as a string.
    assetsInclude: ["**/*.html"],
    test: {
      name: PROJECT,
      include: ["test/**/*.test.ts"],
      setupFiles: ["test/setup.ts"],
      testTimeout: 30_000,
    },
  };
});
