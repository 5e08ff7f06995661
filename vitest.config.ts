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
          bindings: {
            TEST_EXECUTIONS_MIGRATIONS: executionsMigrations,
            TEST_DATA_MIGRATIONS: dataMigrations,
            // ai()'s HTTP provider path, answered by the fake upstream below.
            AI_BASE_URL: "https://ai.test/v1",
            AI_API_KEY: "test-ai-key",
            SERVICE_HOSTNAMES: "code-exec.test",
          },
          serviceBindings: { CALLER: { name: "caller" } },
          // Every outbound fetch of the Worker under test (api(), ai()) reaches this fixture instead of the network.
          outboundService: "fake-upstream",
          workers: [
            {
              name: "caller",
              modules: true,
              scriptPath: path.join(import.meta.dirname, "examples/caller-worker/index.js"),
              compatibilityDate: "2026-08-01",
              serviceBindings: { CODE_EXEC: { name: RUNNER_SERVICE, entrypoint: "CodeExecutor" } },
            },
            {
              name: "fake-upstream",
              modules: true,
              scriptPath: path.join(import.meta.dirname, "test/fixtures/fake-upstream.js"),
              compatibilityDate: "2026-08-01",
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
