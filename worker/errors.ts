import type { ErrorBody } from "../schemas/meta";

// The one error taxonomy for request-level failures. Failures of the user's code are not errors here: they are
// data in the execution result (schemas/result.ts, EXECUTION_ERROR_CODES) and are answered with a 200.

export const ErrorCode = {
  INVALID_JSON: "INVALID_JSON",
  VALIDATION_ERROR: "VALIDATION_ERROR",
  UNSUPPORTED_LANGUAGE: "UNSUPPORTED_LANGUAGE",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  UNAUTHORIZED: "UNAUTHORIZED",
  CROSS_ORIGIN_FORBIDDEN: "CROSS_ORIGIN_FORBIDDEN",
  HOST_NOT_ALLOWED: "HOST_NOT_ALLOWED",
  NOT_FOUND: "NOT_FOUND",
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  INTERNAL_ERROR: "INTERNAL_ERROR",
  /** Local and self-hosted only: every sandbox host is busy or restarting (worker/execution/remote-sandbox.ts). */
  SANDBOX_UNAVAILABLE: "SANDBOX_UNAVAILABLE",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_JSON: 400,
  VALIDATION_ERROR: 400,
  UNSUPPORTED_LANGUAGE: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAUTHORIZED: 401,
  CROSS_ORIGIN_FORBIDDEN: 403,
  // 421 Misdirected Request: this server does not answer for that name (RFC 9110 15.5.20).
  HOST_NOT_ALLOWED: 421,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  INTERNAL_ERROR: 500,
  SANDBOX_UNAVAILABLE: 503,
};

/** Seconds a 503 SANDBOX_UNAVAILABLE asks the caller to wait: a replacement sandbox host is up within this. */
export const SANDBOX_RETRY_AFTER_S = 2;

export interface ErrorIssue {
  path: string;
  message: string;
}

export class ServiceError extends Error {
  override readonly name = "ServiceError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; issues?: ErrorIssue[] },
  ) {
    super(message, { cause: options?.cause });
    this.issues = options?.issues;
  }
  readonly issues: ErrorIssue[] | undefined;

  get status(): number {
    return HTTP_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) } };
  }
}

/** The single catch at the edge: known errors keep their code; anything else is logged and leaks nothing. */
export function errorResponse(error: unknown): Response {
  if (error instanceof ServiceError) {
    // RFC 9110: a 401 names the scheme it wants.
    const headers: HeadersInit =
      error.code === ErrorCode.UNAUTHORIZED
        ? { "www-authenticate": 'Bearer realm="code-exec"' }
        : error.code === ErrorCode.SANDBOX_UNAVAILABLE
          ? { "retry-after": String(SANDBOX_RETRY_AFTER_S) }
          : {};
    return Response.json(error.toBody(), { status: error.status, headers });
  }
  console.error("unhandled error", error);
  const body: ErrorBody = { error: { code: ErrorCode.INTERNAL_ERROR, message: "Internal error" } };
  return Response.json(body, { status: HTTP_STATUS.INTERNAL_ERROR });
}
