// The contract of user.js, which the front Worker generates per execution (worker/execution/instrument.ts):
// a factory that takes the guard and returns the user's code as an async function of `context`.
declare const makeMain: (guard: () => void) => (context: unknown) => Promise<unknown>;
export default makeMain;
