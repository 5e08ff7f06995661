// @ts-check
// The guard that instrumented code calls wherever code starts running: loop bodies, function bodies, parameter
// defaults, class field initialisers and static blocks, computed keys (worker/execution/instrument.ts puts the
// calls there). harness.js creates one per run and hands it to user.js as a parameter, never through a global.

/**
 * Most checks between two clock reads. Reading the clock costs 70-170 ns in workerd, 20-50 times a check, so a
 * tight loop cannot afford a read per check; but while checks are cheap the guard reads only every this many, so
 * code that turns expensive at once runs up to this many of its expensive checks before the guard notices.
 * Measured with scripts/guard-bench.mjs against the old fixed read every 1 024 checks: 256 keeps tight loops at
 * least as fast (the countdown below is cheaper than the old modulo), 128 was about 10% slower.
 */
const MAX_CHECKS_PER_CLOCK_READ = 256;

// Captured at module evaluation, before any user code exists, so patched globals cannot blind the guard. The
// guard itself uses operators only (no Math.*, no property lookups on user-reachable objects) for the same reason.
const now = Date.now;

export class ExecutionTimeout extends Error {
  constructor() {
    super("Execution timed out");
  }
}
// On the prototype, set before user code exists: assigning this.name in the constructor would run a setter the
// user may have put on Error.prototype. Frozen, so code that catches one cannot give every later one a `then`, a
// getter or another name.
ExecutionTimeout.prototype.name = "TimeoutError";
// The class's own name is set, not left to its binding: the child gets this file minified (scripts/build-harness.mjs).
Object.defineProperty(ExecutionTimeout, "name", { value: "ExecutionTimeout" });
Object.freeze(ExecutionTimeout.prototype);
Object.freeze(ExecutionTimeout);

/**
 * A sticky countdown: after it trips, every later check throws again, so catch blocks and finally clauses that
 * loop cannot swallow the timeout.
 *
 * The clock is read on a budget of time, not of checks alone: the number of checks until the next read adapts
 * so that reads come about once per millisecond of work. It starts at 1 (a loop whose iterations each take
 * milliseconds is timed from its first iteration), is divided by the milliseconds that passed since the last
 * read, and doubles, up to MAX_CHECKS_PER_CLOCK_READ, while the clock has not moved.
 *
 * Production freezes the clock while synchronous code runs, so checks made while the clock stands still are
 * counted too: once they exceed what the remaining time allows at stepsPerMs, the guard trips as if the clock had
 * moved. Locally the clock moves and trips first.
 * @param {number} deadlineAt epoch ms
 * @param {number} stepsPerMs
 */
export function createGuard(deadlineAt, stepsPerMs) {
  let checksUntilRead = 1;
  let checksPerRead = 1;
  let lastClock = now();
  let frozenChecks = 0;
  let tripped = false;

  const trip = () => {
    tripped = true;
    // Every later check takes the slow path, which throws.
    checksUntilRead = 0;
  };

  const readClock = () => {
    if (tripped) throw new ExecutionTimeout();
    const clock = now();
    const elapsedMs = clock - lastClock;
    if (elapsedMs !== 0) {
      lastClock = clock;
      frozenChecks = 0;
      // A clock that went backwards gives a negative quotient: read at every check until it behaves.
      checksPerRead = (checksPerRead / elapsedMs) | 0;
      if (checksPerRead < 1) checksPerRead = 1;
    } else {
      frozenChecks += checksPerRead;
      checksPerRead *= 2;
      if (checksPerRead > MAX_CHECKS_PER_CLOCK_READ) checksPerRead = MAX_CHECKS_PER_CLOCK_READ;
    }
    if (clock > deadlineAt || frozenChecks > (deadlineAt - clock) * stepsPerMs) {
      trip();
      throw new ExecutionTimeout();
    }
    checksUntilRead = checksPerRead;
  };

  // The hot path is one decrement and one comparison; it stays small so V8 inlines it into the user's loops.
  const guard = () => {
    if (--checksUntilRead > 0) return;
    readClock();
  };
  return {
    guard,
    trip,
    isTripped: () => tripped,
  };
}
