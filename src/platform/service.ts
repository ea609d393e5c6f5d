/** A started role: the cli closes each in order on SIGTERM/SIGINT. */
export interface Service {
  readonly name: string;
  /** Stops taking work and finishes or hands back what is in flight; idempotent. */
  close(): Promise<void>;
}
