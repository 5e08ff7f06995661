// Per-execution call counts for the capabilities, kept parent-side in this isolate's memory.
//
// Why here and not elsewhere: props are immutable and every RPC call gets a fresh entrypoint instance, so neither
// can count; counting audit rows would race (they are written after the call, in waitUntil, so a Promise.all
// burst would pass the check together) and would add a database read to every call. The child's loopback calls
// are served by this Worker; in production the loader's subRequests limit (schemas/limits.ts) is the backstop
// should calls ever be spread over several isolates.

const used = new Map<string, { count: number; expiresAt: number }>();

/**
 * Takes one call from the budget of `kind` for the execution, or answers false when it is spent. Entries are
 * dropped once their execution's deadline has passed: after that every call fails on the deadline anyway.
 */
export function takeCall(executionId: string, kind: string, maxCalls: number, deadlineAt: number): boolean {
  const now = Date.now();
  for (const [key, entry] of used) if (entry.expiresAt < now) used.delete(key);
  const key = `${kind}:${executionId}`;
  const entry = used.get(key) ?? { count: 0, expiresAt: deadlineAt };
  if (entry.count >= maxCalls) return false;
  entry.count++;
  used.set(key, entry);
  return true;
}
