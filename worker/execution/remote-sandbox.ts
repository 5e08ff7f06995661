import * as v from "valibot";
import { childCapabilityProps } from "../capabilities/child-env";
import { ErrorCode, SANDBOX_RETRY_AFTER_S, ServiceError } from "../errors";
import { mintGrant, revokeGrant } from "./sandbox-grants";
import { parseChildReply } from "./child-protocol";
import type { PlaneModuleSet, PlaneProgram, PlaneTextModule } from "./plane-modules";
import { cancelWatch, childLimits, childRunInput, graceMs, type SandboxHost, type SandboxOutcome, type SandboxRun } from "./sandbox";

// The front's side of the sandbox plane: the run goes to the plane dispatcher (scripts/sandbox-plane.mjs), which
// hands it to a free sandbox-host process (sandbox-host/host.js) and answers with the outcome. Protocol, keep in
// sync with both and with plane-modules.ts:
//   POST {plane}/run  body: the run (the host reads it); headers x-modules-hash, x-deadline-ms, x-overdue-ms,
//        x-startup-ms, x-queue-ms (the dispatcher reads those)  -> 200 PlaneAnswer | 409 (the plane lacks the
//        module set: PUT it, retry) | 503
//   PUT  {plane}/modules/{sha256 of the body}  PlaneModuleSet  -> 204
// A language's shared modules (the JavaScript harness; Python's harness, which names Pyodide's files in the host's
// own python-assets/) travel once per plane, named by content hash; per execution only the run's own modules
// (the user's code) and the run input do.
// Cancelling is closing the request: the front aborts its POST /run, and the dispatcher, seeing its caller gone
// before the answer, SIGKILLs the host that runs it (the only thing that stops a loop that never yields) or drops
// it from its queue.

/**
 * How long the plane may hold a run while every host is busy or restarting, before answering 503: long enough for
 * a replacement host (~0.2 s) and for a burst on busy hosts, short against a caller's patience.
 */
export const PLANE_QUEUE_MS = 5_000;
/** Slack for the plane's own answer after the child's deadline: it kills a late host at timeout + grace. */
const PLANE_ANSWER_SLACK_MS = 500;

const PlaneAnswerSchema = v.variant("kind", [
  v.object({ kind: v.literal("reply"), reply: v.unknown() }),
  v.object({ kind: v.literal("unresponsive") }),
  v.object({ kind: v.literal("failed"), name: v.pipe(v.string(), v.maxLength(200)), message: v.pipe(v.string(), v.maxLength(64 * 1024)) }),
  v.object({ kind: v.literal("out-of-memory"), message: v.pipe(v.string(), v.maxLength(1024)) }),
]);

/** Each language's set as the host stores it, and its name: the SHA-256 of exactly the bytes sent. */
const hashedSets = new WeakMap<PlaneModuleSet, Promise<{ hash: string; body: string }>>();

function hashedModuleSet(set: PlaneModuleSet): Promise<{ hash: string; body: string }> {
  let hashed = hashedSets.get(set);
  if (!hashed) {
    hashed = (async () => {
      const body = JSON.stringify(set);
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
      const hash = Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
      return { hash, body };
    })();
    hashedSets.set(set, hashed);
  }
  return hashed;
}

export class RemoteSandboxHost implements SandboxHost {
  constructor(
    private readonly planeUrl: string,
    private readonly plane: PlaneProgram,
    /** Env.SANDBOX_PLANE when bound; otherwise the plane is fetched through the front's outbound network. */
    private readonly planeService?: Fetcher,
  ) {}

  async run(run: SandboxRun): Promise<SandboxOutcome> {
    let modules: { hash: string; body: string };
    let runModules: Record<string, PlaneTextModule>;
    try {
      modules = await hashedModuleSet(await this.plane.moduleSet());
      runModules = this.plane.runModules({ timeoutMs: run.timeoutMs });
    } catch (error) {
      // As in process: a language whose files are missing (python-assets/ not built) fails its executions only.
      console.error("sandbox plane: the child's module set could not be read", error);
      return { kind: "failed", name: "SandboxError", message: "this language's runtime files could not be loaded" };
    }
    const capabilities = childCapabilityProps(run.capabilities);
    const hostDeadlineMs = run.timeoutMs + graceMs(run);
    const deadlineMs = PLANE_QUEUE_MS + hostDeadlineMs + PLANE_ANSWER_SLACK_MS;
    const token = mintGrant({ executionId: run.capabilities.executionId, capabilities, expiresAt: Date.now() + deadlineMs });
    // Aborted from the cancel's poll, a timer of this request, so the abort is this request's own I/O.
    const cancelled = new AbortController();
    const cancel = cancelWatch(run.cancellation, async () => cancelled.abort());
    try {
      const sent = { modules, runModules, hostDeadlineMs };
      return await Promise.race([this.exchange(run, sent, capabilities, deadlineMs, token, cancelled.signal), cancel.cancelled]);
    } finally {
      cancel.stop();
      revokeGrant(token);
    }
  }

  private async exchange(
    run: SandboxRun,
    { modules, runModules, hostDeadlineMs }: { modules: { hash: string; body: string }; runModules: Record<string, PlaneTextModule>; hostDeadlineMs: number },
    capabilities: ReturnType<typeof childCapabilityProps>,
    deadlineMs: number,
    token: string,
    cancelled: AbortSignal,
  ): Promise<SandboxOutcome> {
    try {
      const body = JSON.stringify({
        executionId: run.capabilities.executionId,
        modulesHash: modules.hash,
        runModules,
        input: childRunInput(run),
        limits: childLimits(run),
        bindings: Object.keys(capabilities),
        token,
      });
      const headers = {
        "content-type": "application/json",
        // What the dispatcher needs without parsing the body.
        "x-modules-hash": modules.hash,
        "x-deadline-ms": String(hostDeadlineMs),
        // Past this the child's guard should have answered: the plane lowers the host's priority until it does.
        "x-overdue-ms": String(run.timeoutMs + run.program.startupAllowanceMs),
        "x-startup-ms": String(run.program.startupAllowanceMs),
        "x-queue-ms": String(PLANE_QUEUE_MS),
      };
      // No startGate here (SandboxRun.startGate): waiting for the "running" row put a D1 round trip, and under load
      // the history queue, in front of every run on the plane, for a hazard only a shared process has.
      const signal = AbortSignal.any([AbortSignal.timeout(deadlineMs), cancelled]);
      let response = await this.post(body, headers, signal);
      if (response.status === 409) {
        await response.body?.cancel();
        const upload = await this.fetchPlane(`/modules/${modules.hash}`, { method: "PUT", body: modules.body, signal });
        await upload.body?.cancel();
        if (!upload.ok) return { kind: "failed", name: "SandboxError", message: `the sandbox plane refused the sandbox modules (${upload.status})` };
        response = await this.post(body, headers, signal);
      }
      if (response.status === 503) {
        await response.body?.cancel();
        throw new ServiceError(
          ErrorCode.SANDBOX_UNAVAILABLE,
          `Every sandbox host is busy or restarting; retry in ${SANDBOX_RETRY_AFTER_S} s`,
        );
      }
      if (!response.ok) {
        await response.body?.cancel();
        return { kind: "failed", name: "SandboxError", message: `the sandbox plane answered ${response.status}` };
      }
      const parsed = v.safeParse(PlaneAnswerSchema, await response.json());
      if (!parsed.success) return { kind: "failed", name: "SandboxError", message: "the sandbox plane answered with a malformed reply" };
      const answer = parsed.output;
      return answer.kind === "reply" ? parseChildReply(answer.reply) : answer;
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      if (cancelled.aborted) return { kind: "cancelled" };
      if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return { kind: "unresponsive" };
      // The plane itself is down (its supervisor restarts it): the same answer as every host restarting.
      console.error("sandbox plane unreachable", error);
      throw new ServiceError(ErrorCode.SANDBOX_UNAVAILABLE, `The sandbox plane is not reachable; retry in ${SANDBOX_RETRY_AFTER_S} s`, { cause: error });
    }
  }

  private post(body: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    return this.fetchPlane("/run", { method: "POST", headers, body, signal });
  }

  private fetchPlane(path: string, init: RequestInit): Promise<Response> {
    const url = `${this.planeUrl}${path}`;
    return this.planeService ? this.planeService.fetch(url, init) : fetch(url, init);
  }
}
