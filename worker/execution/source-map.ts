import { TraceMap, originalPositionFor, type SourceMapInput } from "@jridgewell/trace-mapping";

export interface SourcePosition {
  /** 1-based */
  line: number;
  /** 1-based, as V8 stacks and editors count */
  column: number;
}

export function traceMap(map: SourceMapInput): TraceMap {
  return new TraceMap(map);
}

/**
 * One hop back through a source map; undefined where the position is inside generated code or is no position at
 * all. Positions come from stack text the user can write (`user.js:0:0`), and trace-mapping throws on a line or
 * column below its range, so anything outside it is answered, not thrown.
 */
export function originalPosition(map: TraceMap, generated: SourcePosition): SourcePosition | undefined {
  if (!isPosition(generated)) return undefined;
  try {
    const found = originalPositionFor(map, { line: generated.line, column: generated.column - 1 });
    return found.line === null ? undefined : { line: found.line, column: found.column + 1 };
  } catch {
    return undefined;
  }
}

function isPosition(position: SourcePosition): boolean {
  return Number.isSafeInteger(position.line) && position.line >= 1 && Number.isSafeInteger(position.column) && position.column >= 1;
}
