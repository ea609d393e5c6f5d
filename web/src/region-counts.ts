import type { Summary } from './api.js';
import { colorOf, h } from './dom.js';

/**
 * What zones (objects in, time inside) and lines (crossings each way) counted, per label, as a card of two tables (a
 * job's summary, a stream's GET /zones); null without any.
 */
export function regionCounts(counts: Pick<Summary, 'zones' | 'lines'>): HTMLElement | null {
  const zones = counts.zones ?? [];
  const lines = counts.lines ?? [];
  if (zones.length + lines.length === 0) return null;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const table = (id: string, caption: string, heads: string[], rows: HTMLElement[]) => h('table', { class: 'counts', id },
    h('caption', {}, caption), h('thead', {}, h('tr', {}, ...heads.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, ...rows));
  const labelCell = (label: string) => h('td', {}, h('span', { class: 'swatch', style: `background:${colorOf(label)}` }), label);
  const zoneRows = zones.flatMap((z) => Object.entries(z.labels).map(([label, c]) => h('tr', { 'data-zone': z.name, 'data-label': label, 'data-entered': c.entered },
    h('th', { scope: 'row' }, z.name), labelCell(label), h('td', {}, c.entered), h('td', {}, seconds(c.dwellMs)), h('td', {}, seconds(c.maxDwellMs)))));
  const lineRows = lines.flatMap((l) => Object.entries(l.labels).map(([label, c]) => h('tr', { 'data-line': l.name, 'data-label': label, 'data-in': c.in, 'data-out': c.out },
    h('th', { scope: 'row' }, l.name), labelCell(label), h('td', {}, c.in), h('td', {}, c.out))));
  return h('section', { class: 'card', 'aria-labelledby': 'regions-title' }, h('h2', { id: 'regions-title' }, 'Zones and lines'),
    zones.length ? table('zone-counts', 'Objects that entered each zone, and how long they stayed', ['Zone', 'Label', 'Objects in', 'Time inside', 'Longest stay'], zoneRows) : null,
    lines.length ? table('line-counts', 'Crossings of each line: in is from the right of its arrow to the left', ['Line', 'Label', 'In', 'Out'], lineRows) : null);
}
