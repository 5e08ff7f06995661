/**
 * A plain JSON object (what JSON.parse makes): not an array, not null, no prototype beyond Object.prototype. The
 * schemas that take one check it with this instead of `v.object`/`v.record`, which drop `__proto__`-like keys or
 * take arrays (see ContextObjectSchema in execute.ts).
 */
export function isPlainObject(input: unknown): input is Record<string, unknown> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return false;
  const proto: unknown = Object.getPrototypeOf(input);
  return proto === Object.prototype || proto === null;
}
