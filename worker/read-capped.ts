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
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await (abort ? Promise.race([reader.read(), abort]) : reader.read());
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw tooLarge();
      chunks.push(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
