// The named checks of the real-process test scripts (plane-test.mjs, self-host-test.mjs): each check is printed
// with its time and its note as it ends; outcomes are asserted inside, times only printed (they belong to
// benchmarks). report() prints the tally and exits 1 on any failure.

export function createChecks() {
  const results = [];
  const began = performance.now();
  return {
    /** @param {string} name @param {() => Promise<string | void>} body resolves to a note, or throws */
    async check(name, body) {
      const started = performance.now();
      try {
        const note = await body();
        results.push({ name, ok: true });
        console.log(`ok   ${name} (${((performance.now() - started) / 1000).toFixed(1)} s)${note ? `: ${note}` : ""}`);
      } catch (error) {
        results.push({ name, ok: false });
        console.log(`FAIL ${name}: ${error instanceof Error ? error.message : error}`);
      }
    },
    /** A failure outside any check (the service did not start): it counts, with its stack. */
    failSetup(error) {
      results.push({ name: "setup", ok: false });
      console.log(`FAIL setup: ${error instanceof Error ? error.stack : error}`);
    },
    report() {
      const failed = results.filter((result) => !result.ok).length;
      console.log(`\n${results.length - failed} passed, ${failed} failed in ${((performance.now() - began) / 1000).toFixed(1)} s`);
      process.exit(failed === 0 ? 0 : 1);
    },
  };
}
