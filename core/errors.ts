/** Errors carry a `code` from a closed union so callers switch on it, never on message text. */
export type ErrorCode =
  | 'config_invalid'
  | 'frame_too_large'
  | 'frame_malformed'
  | 'message_invalid'
  | 'queue_full'
  | 'timeout'
  | 'no_route'
  | 'not_connected'
  | 'module_failed'
  | 'store_failed';

export class KubeEdgeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'KubeEdgeError';
    this.code = code;
  }
}

export class ConfigError extends KubeEdgeError {
  /** Each entry names the path of one bad value, e.g. `modules.edgeHub.heartbeat: expected a number`. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('config_invalid', problems.join('; '));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export class FrameError extends KubeEdgeError {
  constructor(code: 'frame_too_large' | 'frame_malformed' | 'message_invalid', message: string) {
    super(code, message);
    this.name = 'FrameError';
  }
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  // some libraries reject with plain objects (modbus-serial's timeout is {name, message, errno})
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') return (err as { message: string }).message;
  return String(err);
}
