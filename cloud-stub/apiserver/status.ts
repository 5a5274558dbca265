/** Kubernetes `Status` objects for API errors. */
export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Expired'
  | 'UnsupportedMediaType'
  | 'Invalid'
  | 'RequestEntityTooLarge'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason?: StatusReason;
  details?: { name?: string; kind?: string; causes?: { field: string; message: string; reason: string }[] };
  code: number;
}

const codes: Record<StatusReason, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  AlreadyExists: 409,
  Conflict: 409,
  Expired: 410,
  UnsupportedMediaType: 415,
  Invalid: 422,
  RequestEntityTooLarge: 413,
  TooManyRequests: 429,
  InternalError: 500,
  ServiceUnavailable: 503,
  Timeout: 504,
};

export class ApiError extends Error {
  readonly reason: StatusReason;
  readonly causes: { field: string; message: string }[];
  constructor(reason: StatusReason, message: string, causes: { field: string; message: string }[] = []) {
    super(message);
    this.reason = reason;
    this.causes = causes;
  }
  get code(): number {
    return codes[this.reason];
  }
  toStatus(): Status {
    const st: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code };
    if (this.causes.length) st.details = { causes: this.causes.map((c) => ({ ...c, reason: 'FieldValueInvalid' })) };
    return st;
  }
}
