// See wrangler.jsonc here. GET /health answers when ready; GET /snapshot answers the gzipped memory snapshot.
import { PYTHON_MAIN_MODULE, pythonChildModules, readPythonFiles } from "../../worker/languages/python/child-modules";

interface SnapshotEnv {
  LOADER: WorkerLoader;
  ASSETS: Fetcher;
}

export default {
  async fetch(request: Request, env: SnapshotEnv): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/health") return new Response("ok");
    if (pathname !== "/snapshot") return new Response("not found", { status: 404 });
    const files = await readPythonFiles(env.ASSETS, { withSnapshot: false });
    const child = env.LOADER.load({
      compatibilityDate: "2026-08-01",
      compatibilityFlags: [],
      mainModule: PYTHON_MAIN_MODULE,
      modules: pythonChildModules(files, ""),
      env: {},
      globalOutbound: null,
    });
    const harness = child.getEntrypoint() as unknown as { makeSnapshot(): Promise<Uint8Array> };
    return new Response(await harness.makeSnapshot(), { headers: { "content-type": "application/gzip" } });
  },
};
