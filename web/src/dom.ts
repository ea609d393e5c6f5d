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

/** 20 colours that tell apart on video; by class id, so neighbouring classes (dog, horse, sheep, cow) differ. */
const PALETTE = ['#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#fabebe',
  '#008080', '#e6beff', '#9a6324', '#fffac8', '#800000', '#aaffc3', '#808000', '#ffd8b1', '#000075', '#a9a9a9'];

/** A stable colour per label: by the model's class id when known (the same in every job and stream). */
export function colorOf(label: string): string {
  let n = classIds.get(label);
  if (n === undefined) {
    n = 0;
    for (const ch of label) n = (n * 31 + ch.charCodeAt(0)) % 9973;
  }
  return PALETTE[n % PALETTE.length]!;
}

/** Black or white, whichever reads better on `hex`. */
export function textOn(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5 ? '#000' : '#fff';
}
