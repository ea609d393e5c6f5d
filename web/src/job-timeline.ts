import type { Frame } from './api.js';
import { colorOf, formatMs, h } from './dom.js';
import { labelSegments } from './overlay.js';
import type { JobFilters } from './job-filters.js';

/** The timeline: a row per label with its segments under the filters; clicking a segment or a row seeks there. */
export interface JobTimeline {
  element: HTMLElement;
  /** Draws the rows again (the filters changed). */
  render(): void;
  /** Moves every row's playhead to `ms`. */
  playhead(ms: number): void;
}

export function jobTimeline(
  labels: readonly string[], frames: readonly Frame[], durationMs: number, filters: JobFilters, seek: (ms: number) => void,
): JobTimeline {
  const element = h('div', { class: 'timeline', id: 'timeline' });
  const playheads: HTMLElement[] = [];
  let lastMs = 0;
  const playhead = (ms: number) => {
    lastMs = ms;
    for (const p of playheads) p.style.left = `${Math.min(100, (ms / durationMs) * 100)}%`;
  };
  const row = (label: string) => {
    const segments = filters.isHidden(label) ? [] : labelSegments(frames, (d) => d.label === label && d.score >= filters.minScore());
    const head = h('div', { class: 'playhead', 'aria-hidden': 'true' });
    playheads.push(head);
    const track = h('div', { class: 'track' }, head, ...segments.map((s) => h('button', {
      type: 'button', class: 'segment', 'data-start-ms': s.startMs, 'data-end-ms': s.endMs,
      style: `left:${(s.startMs / durationMs) * 100}%;width:${Math.max(0.4, ((s.endMs - s.startMs) / durationMs) * 100)}%;background:${colorOf(label)}`,
      title: `${label}: ${formatMs(s.startMs)} – ${formatMs(s.endMs)}`,
      'aria-label': `${label} from ${(s.startMs / 1000).toFixed(1)} s to ${(s.endMs / 1000).toFixed(1)} s: seek`,
      onclick: (event: Event) => {
        event.stopPropagation();
        seek(s.startMs);
      },
    })));
    track.addEventListener('click', (event) => {
      const rect = track.getBoundingClientRect();
      seek(((event.clientX - rect.left) / rect.width) * durationMs);
    });
    return h('div', { class: 'timeline-row', 'data-label': label, 'data-color': colorOf(label), 'data-segments': segments.length },
      h('span', { class: 'timeline-label' }, h('span', { class: 'swatch', style: `background:${colorOf(label)}` }), label),
      track);
  };
  const render = () => {
    playheads.length = 0;
    element.replaceChildren(...labels.map(row));
    playhead(lastMs);
  };
  render();
  return { element, render, playhead };
}
