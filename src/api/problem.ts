import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, VdetError, isVdetError, type ErrorCode } from '../platform/errors.js';
import { metrics } from '../platform/metrics.js';

/** Errors of libraries the api uses, turned into vdet's codes. */
const LIBRARY_CODES: Record<string, ErrorCode> = {
  FST_REQ_FILE_TOO_LARGE: 'VDET_UPLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'VDET_UPLOAD_TOO_MANY_FILES',
  FST_PARTS_LIMIT: 'VDET_VALIDATION',
  FST_FIELDS_LIMIT: 'VDET_VALIDATION',
  FST_PROTO_VIOLATION: 'VDET_VALIDATION',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'VDET_UPLOAD_NOT_MULTIPART',
  FST_MP_PREMATURE_CLOSE: 'VDET_VALIDATION',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'VDET_UPLOAD_NOT_MULTIPART',
  FST_ERR_CTP_BODY_TOO_LARGE: 'VDET_UPLOAD_TOO_LARGE',
};

export function toVdetError(error: FastifyError | Error): VdetError {
  if (isVdetError(error)) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) return new VdetError('VDET_VALIDATION', `Invalid request: ${error.message}.`);
  const mapped = fastifyError.code ? LIBRARY_CODES[fastifyError.code] : undefined;
  if (mapped) return new VdetError(mapped, sentence(error.message));
  if (fastifyError.statusCode && fastifyError.statusCode < 500) return new VdetError('VDET_VALIDATION', sentence(error.message));
  return new VdetError('VDET_INTERNAL', 'Something went wrong on our side; the request can be retried.', { cause: error });
}

function sentence(text: string): string {
  const s = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/** Every api error goes out as problem details with a stable code; 5xx details never leak internals. */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: FastifyError | Error): FastifyReply {
  const problem = toVdetError(error);
  metrics.errors.inc({ code: problem.code });
  if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
  if (problem.code === 'VDET_DEPENDENCY_UNAVAILABLE') void reply.header('retry-after', '5');
  if (problem.retryAfterS !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(problem.retryAfterS))));
  return reply
    .status(problem.status)
    .type('application/problem+json')
    .send({
      type: `https://vdet.dev/errors/${problem.code}`,
      title: ERROR_CODES[problem.code].title,
      status: problem.status,
      detail: problem.message,
      code: problem.code,
    });
}

/** Problem-details responses of a route, for its schema (and so for the OpenAPI document). */
export function problems(...statuses: number[]): Record<number, { description: string; content: Record<string, { schema: { $ref: string } }> }> {
  return Object.fromEntries(statuses.map((s) => [s, {
    description: PROBLEM_DESCRIPTIONS[s] ?? 'Error',
    content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
  }]));
}

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (the detail names what)',
  401: 'Missing or invalid API key',
  404: 'No such job for this tenant',
  409: 'Conflict (e.g. the job is not done yet)',
  413: 'The upload is larger than allowed',
  415: 'Not a video or image vdet reads',
  416: 'The range lies outside the file; Content-Range gives its size',
  422: 'The request is well formed but vdet will not act on it (the code says why)',
  429: 'A rate limit or a tenant quota was reached; see Retry-After',
  500: 'Something failed on the server (the code says what); the request can be retried',
  502: 'A server vdet fetched from failed (the detail says how)',
  503: 'A backing service is unavailable; see Retry-After',
};
