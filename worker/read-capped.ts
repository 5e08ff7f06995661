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
