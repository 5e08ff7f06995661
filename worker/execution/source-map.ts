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

/** One hop back through a source map; undefined where the position is inside generated code. */
export function originalPosition(map: TraceMap, generated: SourcePosition): SourcePosition | undefined {
  const found = originalPositionFor(map, { line: generated.line, column: generated.column - 1 });
  return found.line === null ? undefined : { line: found.line, column: found.column + 1 };
}
