import { DurableObject } from "cloudflare:workers";
import type { ExecuteConfig, ExecuteRequest, Language } from "../../schemas/execute";
import type { ExecutionError, ExecutionResult } from "../../schemas/result";
import {
  MAX_SESSION_BINDINGS,
  MAX_SESSION_QUEUE,
  MAX_SESSION_STATE_BYTES,
  type CellSummary,
  type Session,
  type SessionDetail,
  type SessionExecuteRequest,
  type SessionExecutionResult,
} from "../../schemas/session";
import type { ErrorCode } from "../errors";
import { executeRequest, type Caller, type CellRun } from "../execution/pipeline";
import { createRecorder } from "../history/recorder";
import { deleteSession, insertSession, touchSession } from "../history/sessions-store";
import { asPrepareOutcome, prepareCell, type PreparedCell } from "./cell";
import { commitDeclarations, stateEntries, type Declaration } from "./declarations";
import { narrowConfig } from "./narrow-config";
import { checkState, EMPTY_STATE_JSON, type CheckedState } from "./state-blob";

/** A request-level refusal, as data: a Durable Object's RPC carries no ServiceError class across. */
export interface SessionRefusal {
  refused: { code: ErrorCode; message: string };
}
export type SessionAnswer<T> = { ok: T } | SessionRefusal;

export interface CreateSessionInput {
  sessionId: string;
  owner: string;
  language: Language;
  config: ExecuteConfig;
  ttlSeconds: number;
  maxCells: number;
}

interface Meta {
  id: string;
  owner: string;
  language: Language;
  config: ExecuteConfig;
  ttlSeconds: number;
  maxCells: number;
  createdAt: number;
  expiresAt: number;
  nextCell: number;
}

const RESULT_PREVIEW_CHARS = 1024;
/** A cell's code as GET /sessions/:id lists it; the whole code is in history under the cell's executionId. */
const CELL_CODE_PREVIEW_CHARS = 4 * 1024;

const notFound = (): SessionRefusal => ({ refused: { code: "NOT_FOUND", message: "No such session" } });

/**
 * One session: its metadata, its cells and its state, in this object's SQLite storage. It is the session's only
 * writer, so runs are serialised here (a queue, not a lock another process could leave held) and each cell reads
 * the state the previous one committed. The cells themselves run through the ordinary pipeline: a fresh isolate
 * per cell, with the state travelling as data in the run input and reply.
 */
export class ExecutionSession extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** The tail of the queue of cells; each waits for the one before. */
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.ensureSchema();
  }

  private ensureSchema(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL)`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS cells (cell INTEGER PRIMARY KEY, json TEXT NOT NULL)`);
    // One row: the state is one blob because shared references may cross bindings.
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), state_json TEXT NOT NULL, declarations_json TEXT NOT NULL, sizes_json TEXT NOT NULL)`,
    );
  }

  async create(input: CreateSessionInput): Promise<Session> {
    const now = Date.now();
    const meta: Meta = {
      id: input.sessionId,
      owner: input.owner,
      language: input.language,
      config: input.config,
      ttlSeconds: input.ttlSeconds,
      maxCells: input.maxCells,
      createdAt: now,
      expiresAt: now + input.ttlSeconds * 1000,
      nextCell: 1,
    };
    this.writeMeta(meta);
    this.sql.exec(`INSERT OR REPLACE INTO state (id, state_json, declarations_json, sizes_json) VALUES (1, ?, '[]', '{}')`, EMPTY_STATE_JSON);
    await this.ctx.storage.setAlarm(meta.expiresAt);
    await insertSession(this.env.EXECUTIONS_DB, {
      id: meta.id,
      owner: meta.owner,
      language: meta.language,
      config: meta.config,
      createdAt: meta.createdAt,
      expiresAt: meta.expiresAt,
      cellCount: 0,
    });
    return this.summary(meta);
  }

  async describe(owner: string): Promise<SessionAnswer<SessionDetail>> {
    const meta = await this.liveMeta(owner);
    if (!meta) return notFound();
    const cells = this.sql.exec<{ json: string }>(`SELECT json FROM cells ORDER BY cell`).toArray().map((row) => JSON.parse(row.json) as CellSummary);
    const { declarations, sizes, stateBytes } = this.readState();
    const sourceBytes = declarations.reduce((sum, d) => sum + (d.source ? new TextEncoder().encode(d.source).byteLength : 0), 0);
    return {
      ok: {
        ...this.summary(meta),
        cells,
        state: { entries: stateEntries(declarations, sizes), sizeBytes: stateBytes + sourceBytes, maxBytes: MAX_SESSION_STATE_BYTES },
      },
    };
  }

  /** Queued behind any running cell, so a cell finishing after the delete cannot write the session back. */
  async end(owner: string): Promise<SessionAnswer<true>> {
    const ended = this.tail.then(async (): Promise<SessionAnswer<true>> => {
      const meta = await this.liveMeta(owner);
      if (!meta) return notFound();
      await this.destroy(meta.id);
      return { ok: true };
    });
    this.tail = ended.catch(() => undefined);
    return ended;
  }

  /** Serialised: a run waits for the one before it; past MAX_SESSION_QUEUE waiting runs, one more is refused. */
  async execute(owner: string, request: SessionExecuteRequest, caller: Caller): Promise<SessionAnswer<SessionExecutionResult>> {
    if (!(await this.liveMeta(owner))) return notFound();
    if (this.queued > MAX_SESSION_QUEUE) {
      return { refused: { code: "SESSION_BUSY", message: `This session already has a cell running and ${MAX_SESSION_QUEUE} waiting; retry later` } };
    }
    this.queued++;
    const run = this.tail.then(() => this.runCell(owner, request, caller));
    this.tail = run.catch(() => undefined);
    try {
      return await run;
    } finally {
      this.queued--;
    }
  }

  override async alarm(): Promise<void> {
    const meta = this.readMeta();
    if (!meta) return;
    if (Date.now() >= meta.expiresAt) await this.destroy(meta.id);
    else await this.ctx.storage.setAlarm(meta.expiresAt);
  }

  private async runCell(owner: string, input: SessionExecuteRequest, caller: Caller): Promise<SessionAnswer<SessionExecutionResult>> {
    // Read again inside the queue: the run before may have ended the session.
    const meta = await this.liveMeta(owner);
    if (!meta) return notFound();
    const cellCount = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM cells`).one().n;
    if (cellCount >= meta.maxCells) {
      return { refused: { code: "SESSION_FULL", message: `This session has reached its limit of ${meta.maxCells} cells; start a new session` } };
    }
    const narrowed = narrowConfig(meta.config, input.config);
    if (!narrowed.ok) return { refused: { code: "VALIDATION_ERROR", message: narrowed.message } };

    const cell = meta.nextCell;
    const before = this.readState();
    const request: ExecuteRequest = { code: input.code, language: meta.language, context: input.context, config: narrowed.config };
    let prepared: PreparedCell | undefined;
    let committed: { state: CheckedState; declarations: Declaration[]; warnings: string[] } | undefined;
    const hooks: CellRun = {
      sessionId: meta.id,
      stateJson: before.stateJson,
      prepare: async (code, language) => {
        const outcome = await prepareCell(code, language, before.declarations, cell);
        if (outcome.ok) prepared = outcome.cell;
        return asPrepareOutcome(outcome);
      },
      settle: (reply) => {
        const error = (code: ExecutionError["code"], message: string): ExecutionError => ({
          code,
          name: code === "SESSION_STATE_TOO_LARGE" ? "SessionStateTooLarge" : "SandboxError",
          message,
        });
        if (reply.stateProblem === "too_large") {
          return error("SESSION_STATE_TOO_LARGE", `The session's state would exceed its limit of ${MAX_SESSION_STATE_BYTES} bytes; nothing of this cell was kept.`);
        }
        if (!prepared || reply.stateJson === undefined) return error("SANDBOX_ERROR", "The sandbox did not return the session's state; nothing of this cell was kept.");
        const checked = checkState(reply.stateJson, new Set(prepared.captured));
        if (!checked.ok) return error(checked.problem === "too_large" ? "SESSION_STATE_TOO_LARGE" : "SANDBOX_ERROR", checked.message);
        const next = commitDeclarations(before.declarations, prepared.declared, checked.state);
        const sourceBytes = next.declarations.reduce((sum, d) => sum + (d.source ? new TextEncoder().encode(d.source).byteLength : 0), 0);
        if (checked.state.sizeBytes + sourceBytes > MAX_SESSION_STATE_BYTES) {
          return error(
            "SESSION_STATE_TOO_LARGE",
            `The session's state would be ${checked.state.sizeBytes + sourceBytes} bytes (values and function sources); the limit is ${MAX_SESSION_STATE_BYTES} bytes. Nothing of this cell was kept.`,
          );
        }
        if (next.declarations.length > MAX_SESSION_BINDINGS) {
          return error("SESSION_STATE_TOO_LARGE", `The session would hold ${next.declarations.length} names; the limit is ${MAX_SESSION_BINDINGS}. Nothing of this cell was kept.`);
        }
        committed = { state: checked.state, ...next };
        return undefined;
      },
    };
    const deps = { env: this.env, ctx: this.ctx as unknown as ExecutionContext, recorder: createRecorder(this.env, this.ctx as unknown as ExecutionContext) };
    const result = await executeRequest(deps, request, caller, { cell: hooks });

    // Only a successful cell changes the state; every cell is kept in the record and refreshes the lifetime.
    if (result.success && committed) {
      this.sql.exec(
        `UPDATE state SET state_json = ?, declarations_json = ?, sizes_json = ? WHERE id = 1`,
        committed.state.json,
        JSON.stringify(committed.declarations),
        JSON.stringify(Object.fromEntries(committed.state.sizes)),
      );
    }
    this.sql.exec(`INSERT INTO cells (cell, json) VALUES (?, ?)`, cell, JSON.stringify(cellSummary(cell, input.code, result)));
    const updated: Meta = { ...meta, nextCell: cell + 1, expiresAt: Date.now() + meta.ttlSeconds * 1000 };
    this.writeMeta(updated);
    await this.ctx.storage.setAlarm(updated.expiresAt);
    try {
      await touchSession(this.env.EXECUTIONS_DB, meta.id, updated.expiresAt, cellCount + 1);
    } catch (error) {
      console.error("sessions: could not refresh the session's index row", error);
    }

    const warnings = [...(result.warnings ?? []), ...(result.success && committed ? committed.warnings : [])];
    return { ok: { ...result, ...(warnings.length > 0 ? { warnings } : {}), sessionId: meta.id, cell } };
  }

  /** The session's metadata if it exists, belongs to `owner` and has not expired; an expired one is deleted now. */
  private async liveMeta(owner: string): Promise<Meta | undefined> {
    const meta = this.readMeta();
    if (!meta) return undefined;
    if (Date.now() >= meta.expiresAt) {
      await this.destroy(meta.id);
      return undefined;
    }
    return meta.owner === owner ? meta : undefined;
  }

  private async destroy(id: string): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.ensureSchema();
    try {
      await deleteSession(this.env.EXECUTIONS_DB, id);
    } catch (error) {
      // The index row of an expired session is never listed (listSessions filters on expires_at).
      console.error("sessions: could not delete the session's index row", error);
    }
  }

  private readMeta(): Meta | undefined {
    const row = this.sql.exec<{ json: string }>(`SELECT json FROM meta WHERE id = 1`).toArray()[0];
    return row ? (JSON.parse(row.json) as Meta) : undefined;
  }

  private writeMeta(meta: Meta): void {
    this.sql.exec(`INSERT OR REPLACE INTO meta (id, json) VALUES (1, ?)`, JSON.stringify(meta));
  }

  private readState(): { stateJson: string; declarations: Declaration[]; sizes: Map<string, number>; stateBytes: number } {
    const row = this.sql
      .exec<{ state_json: string; declarations_json: string; sizes_json: string }>(`SELECT state_json, declarations_json, sizes_json FROM state WHERE id = 1`)
      .toArray()[0];
    if (!row) return { stateJson: EMPTY_STATE_JSON, declarations: [], sizes: new Map(), stateBytes: 0 };
    return {
      stateJson: row.state_json,
      declarations: JSON.parse(row.declarations_json) as Declaration[],
      sizes: new Map(Object.entries(JSON.parse(row.sizes_json) as Record<string, number>)),
      stateBytes: new TextEncoder().encode(row.state_json).byteLength,
    };
  }

  private summary(meta: Meta): Session {
    return {
      sessionId: meta.id,
      language: meta.language,
      config: meta.config,
      createdAt: new Date(meta.createdAt).toISOString(),
      expiresAt: new Date(meta.expiresAt).toISOString(),
      cellCount: meta.nextCell - 1,
    };
  }
}

function cellSummary(cell: number, code: string, result: ExecutionResult): CellSummary {
  let resultPreview: string | undefined;
  if ("result" in result) {
    const json = JSON.stringify(result.result) ?? "undefined";
    resultPreview = json.length > RESULT_PREVIEW_CHARS ? `${json.slice(0, RESULT_PREVIEW_CHARS)}…` : json;
  }
  return {
    cell,
    executionId: result.executionId,
    code: code.length > CELL_CODE_PREVIEW_CHARS ? `${code.slice(0, CELL_CODE_PREVIEW_CHARS)}… [${code.length} characters: GET /executions/${result.executionId}]` : code,
    status: result.status,
    success: result.success,
    ...(result.error ? { error: result.error } : {}),
    ...(resultPreview !== undefined ? { resultPreview } : {}),
    durationMs: result.durationMs,
    createdAt: new Date(Date.now() - result.durationMs).toISOString(),
  };
}
