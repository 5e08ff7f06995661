// @ts-check
// The guard every instrumented loop body and function entry calls (worker/execution/instrument.ts puts the calls
// there). harness.js creates one per run and hands it to user.js as a parameter, never through a global.

/** Checks between clock reads: reading the clock on every loop iteration would double the cost of a tight loop. */
const CLOCK_EVERY_STEPS = 1024;

// Captured at module evaluation, before any user code exists, so patched globals cannot blind the guard.
const now = Date.now;

export class ExecutionTimeout extends Error {
  constructor() {
    super("Execution timed out");
    this.name = "TimeoutError";
  }
}

/**
 * A sticky countdown: after it trips, every later check throws again, so catch blocks and finally clauses that
 * loop cannot swallow the timeout.
 *
 * Time is read every CLOCK_EVERY_STEPS checks. Production freezes the clock while synchronous code runs, so
 * checks made while the clock stands still are counted too: once they exceed what the remaining time allows at
 * stepsPerMs, the guard trips as if the clock had moved. Locally the clock moves and trips first.
 * @param {number} deadlineAt epoch ms
 * @param {number} stepsPerMs
 */
export function createGuard(deadlineAt, stepsPerMs) {
  let steps = 0;
  let tripped = false;
  let lastClock = now();
  let frozenSteps = 0;
  const guard = () => {
    if (tripped) throw new ExecutionTimeout();
    if (++steps % CLOCK_EVERY_STEPS !== 0) return;
    const clock = now();
    if (clock !== lastClock) {
      lastClock = clock;
      frozenSteps = 0;
    } else {
      frozenSteps += CLOCK_EVERY_STEPS;
    }
    if (clock > deadlineAt || frozenSteps > (deadlineAt - clock) * stepsPerMs) {
      tripped = true;
      throw new ExecutionTimeout();
    }
  };
  return {
    guard,
    trip() {
      tripped = true;
    },
    isTripped: () => tripped,
  };
}

