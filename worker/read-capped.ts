/**
 * Reads a body stream to bytes without ever holding more than maxBytes: the HTTP edge and api() responses both
 * take bodies from untrusted senders. `tooLarge` builds the error in the caller's own taxonomy; `abort`, when
 * given, rejects to stop a read that outlives its deadline. The stream is cancelled on any failure.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  tooLarge: () => Error,
  abort?: Promise<never>,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  try {
    const read = await readUpTo(reader, maxBytes, abort);
    if (read === "over") throw tooLarge();
    return read;
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
}

/**
 * Past the cap, a refused request body is read on and thrown away, up to this many more bytes, rather than
 * cancelled. A request body that was partly read and then cancelled (or left) breaks local `wrangler dev`: its
 * proxy loses the connection to the runtime ("Network connection lost."), reports that as fatal and exits, so one
 * chunked 2 MB POST took the service down. Wrangler works around the same bug for bodies a Worker never touched
 * (its dev-only middleware drains them, which is why a 401 never crashed it), but skips bodies already read from.
 * Draining leaves the connection as the runtime expects. The bound, Cloudflare's own request body limit on the
 * Free and Pro plans, keeps a hostile sender from streaming forever; beyond it the body is cancelled (and local
 * wrangler dev may still fall over: npm run dev restarts it). scripts/edge-check.mjs reproduces all of this.
 */
export const MAX_DRAINED_REQUEST_BYTES = 100 * 1024 * 1024;

/** readCapped for a request body: the same cap, but an oversized body is drained (see above) before refusing. */
export async function readCappedRequestBody(body: ReadableStream<Uint8Array> | null, maxBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  let read: Uint8Array | "over";
  try {
    read = await readUpTo(reader, maxBytes);
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
  if (read !== "over") return read;
  try {
    if (!(await discardUpTo(reader, MAX_DRAINED_REQUEST_BYTES))) await reader.cancel();
  } catch {
    // The sender went away mid-body: nothing left to drain, and the answer is the same.
  }
  throw tooLarge();
}

/** The bytes up to maxBytes, or "over" as soon as the stream passes it (what was read is dropped). */
async function readUpTo(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number, abort?: Promise<never>): Promise<Uint8Array | "over"> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await (abort ? Promise.race([reader.read(), abort]) : reader.read());
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) return "over";
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Reads and drops chunks; true when the stream ended within maxBytes. */
async function discardUpTo(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number): Promise<boolean> {
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return true;
    total += value.byteLength;
    if (total > maxBytes) return false;
  }
}

/** How long an unread body is drained at most (a sender trickling bytes). */
export const MAX_DRAIN_MS = 10_000;

/**
 * The answer to a request whose body the handler never read (a 401, a 413 by Content-Length, a 404): sent at once,
 * but ended only once the body is drained, up to MAX_DRAINED_REQUEST_BYTES and MAX_DRAIN_MS. A connection closed
 * with unread bytes is reset by the kernel, and a client still writing its body loses the answer it was sent
 * (ECONNRESET instead of the 401). workerd drops the request body once the response is complete, so the drain has
 * to happen while the response is still open. Cloudflare's edge and wrangler dev's middleware drain for the
 * Worker; plain workerd (self-hosting) does not: scripts/edge-check.mjs --runtime workerd shows it.
 */
export async function endAfterDrain(request: Request, response: Response, ctx: ExecutionContext): Promise<Response> {
  if (!request.body || request.bodyUsed) return response;
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (declared > MAX_DRAINED_REQUEST_BYTES || response.webSocket) return response;
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = request.body.getReader();
  } catch {
    return response; // locked: something else owns it
  }
  if (NULL_BODY_STATUSES.has(response.status)) {
    // These can carry no body to hold open: the drain comes first.
    await drain(reader);
    return response;
  }
  // Such answers are small (errors, refusals): held whole, so nothing waits on the client reading them.
  const bytes = new Uint8Array(await response.arrayBuffer());
  let end = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      end = () => controller.close();
    },
  });
  ctx.waitUntil(drain(reader).finally(end));
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), MAX_DRAIN_MS);
  });
  try {
    if (!(await Promise.race([discardUpTo(reader, MAX_DRAINED_REQUEST_BYTES), deadline]))) await reader.cancel();
  } catch {
    // The sender went away: nothing left to drain.
  } finally {
    clearTimeout(timer);
  }
}
