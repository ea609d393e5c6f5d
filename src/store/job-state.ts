/**
 * The job state machine: queued → running → done, and failed from any unfinished state. Pure; the job store
 * applies it as a conditional update, so two processes racing to move a job cannot both win.
 */
export const JOB_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

const NEXT: Record<JobStatus, readonly JobStatus[]> = {
  queued: ['running', 'failed'],
  running: ['done', 'failed'],
  done: [],
  failed: [],
};

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return NEXT[from].includes(to);
}

/** The states a job may be in for a move to `to` to be allowed. */
export function statesBefore(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((from) => canTransition(from, to));
}

export function isFinished(status: JobStatus): boolean {
  return NEXT[status].length === 0;
}
