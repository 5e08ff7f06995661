import type { LogEntry } from "../../schemas/result";

// Size caps for what history stores. D1 limits a single string/row to about 2 MB and everything here lands in
// one row, so each JSON column gets its own budget and the sum (with the 100 KB of code) stays under 1 MB: one
// huge result, log stream or context can never make the whole row fail to write.

export const MAX_STORED_CONTEXT_BYTES = 128 * 1024;
export const MAX_STORED_RESULT_BYTES = 256 * 1024;
export const MAX_STORED_LOGS_BYTES = 256 * 1024;
export const MAX_STORED_ERROR_BYTES = 16 * 1024;
export const TRUNCATION_MARKER = "…[truncated]";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function byteLength(text: string): number {
  return encoder.encode(text).byteLength;
}

export function truncateText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  return text.slice(0, Math.max(0, maxChars - TRUNCATION_MARKER.length)) + TRUNCATION_MARKER;
}

/** Cuts at a byte budget; a multi-byte character split at the edge is dropped rather than stored broken. */
function truncateBytes(text: string, maxBytes: number): string {
  const budget = Math.max(0, maxBytes - byteLength(TRUNCATION_MARKER));
  const cut = decoder.decode(encoder.encode(text).slice(0, budget)).replace(/\uFFFD$/, "");
  return cut + TRUNCATION_MARKER;
}

export interface CappedJson {
  json: string;
  truncated: boolean;
}

/**
 * JSON for a column, within maxBytes. An oversized value is stored as a JSON *string* holding its JSON text cut
 * at the budget and ending in the marker, so the column always parses and the reader can tell it was cut.
 */
export function capJson(value: unknown, maxBytes: number): CappedJson {
  const json = JSON.stringify(value) ?? "null";
  if (byteLength(json) <= maxBytes) return { json, truncated: false };
  // JSON.stringify of the cut text escapes quotes and backslashes; leave room for that growth.
  const cut = truncateBytes(json, Math.floor(maxBytes / 2));
  return { json: JSON.stringify(cut), truncated: true };
}

/** Logs keep their shape: whole entries up to the budget, then one entry saying how many were dropped. */
export function capLogs(logs: LogEntry[], maxBytes: number): { json: string; truncated: boolean } {
  const json = JSON.stringify(logs);
  if (byteLength(json) <= maxBytes) return { json, truncated: false };
  const kept: LogEntry[] = [];
  let used = 2 + 512; // the brackets plus room for the marker entry
  for (const entry of logs) {
    const size = byteLength(JSON.stringify(entry)) + 1;
    if (used + size > maxBytes) break;
    kept.push(entry);
    used += size;
  }
  const dropped = logs.length - kept.length;
  const last = logs[logs.length - 1];
  kept.push({
    level: "warn",
    message: `${TRUNCATION_MARKER} ${dropped} more log entries were not stored (history keeps ${maxBytes} bytes of logs)`,
    timestamp: last?.timestamp ?? new Date().toISOString(),
  });
  return { json: JSON.stringify(kept), truncated: true };
}
