import { classColorOf } from '../../src/contracts/class-colors.js';
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** A small element builder: attributes, `on…` listeners, and text children (never parsed as HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) el.setAttribute(name, '');
    // Through the CSSOM, which the Content-Security-Policy allows (a style attribute would need 'unsafe-inline').
    else if (name === 'style') el.style.cssText = String(value);
    else el.setAttribute(name, String(value));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function formatMs(ms: number): string {
  const s = ms / 1000;
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(2).padStart(5, '0')}`;
}

export function formatTime(iso: string | number | null): string {
  if (iso === null) return '—';
  return new Date(iso).toLocaleString();
}

const classIds = new Map<string, number>();

/** Remembers the model's class id of each label seen, so colours follow the class (the same in every job). */
export function noteClasses(detections: Iterable<{ label: string; classId: number }>): void {
  for (const d of detections) if (!classIds.has(d.label)) classIds.set(d.label, d.classId);
}

/** A label's colours: by the model's class id when known (the same in every job and stream, and in the annotated video). */
export function colorsOf(label: string): { fill: string; text: string } {
  let n = classIds.get(label);
  if (n === undefined) {
    n = 0;
    for (const ch of label) n = (n * 31 + ch.charCodeAt(0)) % 9973;
  }
  return classColorOf(n);
}

/** A stable colour per label (see colorsOf). */
export function colorOf(label: string): string {
  return colorsOf(label).fill;
}
