// Size caps for what history stores. D1 limits a row/value to 1 MB (and a statement to 100 KB of SQL text, which
// bound parameters do not count against); each JSON column is kept well under that so a huge result, log stream
// or context can never make the whole row fail to write.

export const MAX_STORED_JSON_CHARS = 256 * 1024;
export const TRUNCATION_MARKER = "…[truncated]";

export function truncateText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  return text.slice(0, Math.max(0, maxChars - TRUNCATION_MARKER.length)) + TRUNCATION_MARKER;
}
