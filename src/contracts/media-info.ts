/** What the processor's probe found in an upload, stored with its job. */
export interface MediaInfo {
  width: number;
  height: number;
  fps: number;
  frames: number;
  durationMs: number;
}
