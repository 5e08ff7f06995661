// The contract of user.js, which the front Worker generates per execution (worker/execution/instrument.ts):
// a factory that takes the guard and the context and returns the user's code as an async function, and the
// table of guard insertions sandbox-template/function-source.js reads.
declare const makeMain: (guard: () => void, context: unknown) => () => Promise<unknown>;
export default makeMain;
export declare const __ce_insertions: readonly number[];
