/**
 * A one-line progress bar for a terminal: `name ███████░░░░ 120/400 frames  31.5 frames/s  ETA 9s`. It is drawn only
 * on a TTY ({@link ProgressBar.forStream} returns undefined otherwise), at most ten times a second, and erased when
 * done, so that logs, pipes and files never see it.
 */
export interface TerminalLike {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

const BAR_WIDTH = 24;
const REDRAW_MS = 100;

export class ProgressBar {
  private name = '';
  private total = 0;
  private unit = 'frames';
  private startedAt = 0;
  private drawnAt = 0;
  private visible = false;

  constructor(private readonly stream: TerminalLike, private readonly now: () => number = Date.now) {}

  /** A bar on `stream` when it is a terminal, else undefined. */
  static forStream(stream: TerminalLike): ProgressBar | undefined {
    return stream.isTTY ? new ProgressBar(stream) : undefined;
  }

  start(name: string, total: number, unit = 'frames'): void {
    this.name = name;
    this.total = total;
    this.unit = unit;
    this.startedAt = this.now();
    this.drawnAt = 0;
    this.update(0, true);
  }

  /** A total learnt after the start (a job's frame count once its plan is known). */
  setTotal(total: number): void {
    this.total = total;
  }

  update(done: number, force = false): void {
    const now = this.now();
    if (!force && now - this.drawnAt < REDRAW_MS) return;
    this.drawnAt = now;
    this.stream.write(`\r\x1b[2K${this.line(done, now)}`);
    this.visible = true;
  }

  /** Erases the bar (the summary follows on a clean line). */
  finish(): void {
    if (this.visible) this.stream.write('\r\x1b[2K');
    this.visible = false;
  }

  /** The bar's text, cut to the terminal's width. */
  line(done: number, now: number = this.now()): string {
    const total = Math.max(this.total, done);
    const share = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(share * BAR_WIDTH);
    const seconds = (now - this.startedAt) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 && total > done ? `ETA ${formatDuration((total - done) / rate)}` : '';
    const text = [
      this.name,
      `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`,
      `${done}/${total} ${this.unit}`,
      rate > 0 ? `${rate.toFixed(1)} ${this.unit}/s` : '',
      eta,
    ].filter(Boolean).join('  ');
    // A pty without a size (script, some CI runners) reports 0 columns: assume 80 rather than cut everything.
    const width = (this.stream.columns || 80) - 1;
    return text.length > width ? text.slice(0, Math.max(0, width)) : text;
  }
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
