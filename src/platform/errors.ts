/**
 * Every error vdet reports carries a stable code (`VDET_…`), the HTTP status the api answers with, and whether a
 * retry may succeed. The codes are the contract: docs/errors.md lists each one, and a test keeps them in step.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly retriable: boolean;
  readonly title: string;
}

export const ERROR_CODES = {
  VDET_CONFIG_INVALID: { status: 500, retriable: false, title: 'Invalid configuration' },
  VDET_VALIDATION: { status: 400, retriable: false, title: 'Invalid request' },
  VDET_UPLOAD_MISSING_FILE: { status: 400, retriable: false, title: 'No file in the upload' },
  VDET_UPLOAD_TOO_MANY_FILES: { status: 400, retriable: false, title: 'More than one file in the upload' },
  VDET_UPLOAD_EMPTY: { status: 400, retriable: false, title: 'The uploaded file is empty' },
  VDET_UPLOAD_TOO_LARGE: { status: 413, retriable: false, title: 'The upload is larger than allowed' },
  VDET_UPLOAD_NOT_MULTIPART: { status: 415, retriable: false, title: 'The upload must be multipart/form-data' },
  VDET_OPTIONS_INVALID: { status: 400, retriable: false, title: 'Invalid job options' },
  VDET_UNAUTHORIZED: { status: 401, retriable: false, title: 'Missing or invalid API key' },
  VDET_RATE_LIMITED: { status: 429, retriable: true, title: 'Too many requests' },
  VDET_QUOTA_EXCEEDED: { status: 429, retriable: true, title: 'The tenant is at one of its limits' },
  VDET_FETCH_REFUSED: { status: 422, retriable: false, title: 'vdet does not fetch from this address' },
  VDET_FETCH_FAILED: { status: 502, retriable: true, title: 'Fetching the URL failed' },
  VDET_UNSUPPORTED_MEDIA: { status: 415, retriable: false, title: 'The file is not a video or image vdet reads' },
  VDET_FRAME_INVALID: { status: 422, retriable: false, title: 'A pushed frame is not a readable image' },
  VDET_FRAME_UNAUTHORIZED: { status: 401, retriable: false, title: 'A pushed frame has no valid ingest token for its stream' },
  VDET_STREAM_NOT_FOUND: { status: 404, retriable: false, title: 'No such stream' },
  VDET_CAMERA_REFUSED: { status: 422, retriable: false, title: 'vdet does not pull a camera from this URL' },
  VDET_CAMERA_SOURCE_NOT_FOUND: { status: 404, retriable: false, title: 'The stream has no camera source' },
  VDET_STREAM_TOKEN_NOT_FOUND: { status: 404, retriable: false, title: 'No such ingest token' },
  VDET_STREAM_TOKEN_LIMIT: { status: 409, retriable: false, title: 'The stream has as many ingest tokens as it may' },
  VDET_JOB_NOT_FOUND: { status: 404, retriable: false, title: 'No such job' },
  VDET_CURSOR_INVALID: { status: 400, retriable: false, title: 'Invalid cursor' },
  VDET_TRACK_NOT_FOUND: { status: 404, retriable: false, title: 'No such track' },
  VDET_JOB_NOT_DONE: { status: 409, retriable: false, title: 'The job is not done' },
  VDET_RANGE_NOT_SATISFIABLE: { status: 416, retriable: false, title: 'The requested range is not satisfiable' },
  VDET_DEPENDENCY_UNAVAILABLE: { status: 503, retriable: true, title: 'A backing service is unavailable' },
  VDET_MEDIA_UNREADABLE: { status: 422, retriable: false, title: 'The file is not a decodable video or image' },
  VDET_MEDIA_LIMIT: { status: 422, retriable: false, title: 'The media exceeds a limit' },
  VDET_MEDIA_DECODE_FAILED: { status: 422, retriable: false, title: 'Decoding the media failed' },
  VDET_MEDIA_NO_FRAMES: { status: 422, retriable: false, title: 'The media has no frames to process' },
  VDET_UPLOAD_LOST: { status: 500, retriable: false, title: 'The uploaded file is no longer stored' },
  VDET_MESSAGE_INVALID: { status: 500, retriable: false, title: 'A message did not match its contract' },
  VDET_INFERENCE_FAILED: { status: 500, retriable: false, title: 'The model failed on a chunk' },
  VDET_MODEL_INVALID: { status: 500, retriable: false, title: 'The model file is not usable' },
  VDET_MODEL_CHECKSUM: { status: 500, retriable: false, title: 'The model file does not match its checksum' },
  VDET_MODEL_UNKNOWN: { status: 400, retriable: false, title: 'No registered model has this name' },
  VDET_MODEL_IN_USE: { status: 409, retriable: false, title: 'Jobs still use the model' },
  VDET_MODEL_UNAVAILABLE: { status: 500, retriable: false, title: 'The model version the job was submitted with cannot be loaded' },
  VDET_TRACKING_FAILED: { status: 500, retriable: false, title: 'Tracking the job\'s objects failed' },
  VDET_JOB_STALLED: { status: 500, retriable: false, title: 'The job stopped making progress' },
  VDET_RENDER_FAILED: { status: 500, retriable: true, title: 'Rendering the annotated video failed' },
  VDET_INTERNAL: { status: 500, retriable: true, title: 'Internal error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class of vdet: a code from {@link ERROR_CODES}, a sentence for a person, and an optional cause. */
export class VdetError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retriable: boolean;
  /** When a retry may succeed, in seconds: the api sends it as Retry-After. */
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterS?: number }) {
    super(message, options);
    this.name = 'VdetError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.retriable = ERROR_CODES[code].retriable;
    this.retryAfterS = options?.retryAfterS;
  }
}

export function isVdetError(error: unknown): error is VdetError {
  return error instanceof VdetError;
}

/** A job's stored failure reason: stable code plus readable sentence. */
export interface FailureReason {
  code: ErrorCode;
  message: string;
}

export function toFailureReason(error: unknown): FailureReason {
  if (isVdetError(error)) return { code: error.code, message: error.message };
  return { code: 'VDET_INTERNAL', message: error instanceof Error ? error.message : String(error) };
}
