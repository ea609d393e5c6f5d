/**
 * Zones and lines over tracked objects, pure (vision stage): fed frames in time order (each detection with its
 * `trackId`), it counts per zone the objects that entered it and how long they stayed, and per line the objects that
 * crossed it in each direction, per label. An object's position is its box's bottom centre (where it stands). Its
 * whole state is plain JSON, so a counter can stop and go on elsewhere (toJSON / fromJSON).
 */
export type Point = readonly [number, number];

export interface ZoneSpec {
  readonly name: string;
  /** In source pixels, at least 3 points; the edge from the last point back to the first closes it. */
  readonly polygon: readonly Point[];
}

export interface LineSpec {
  readonly name: string;
  readonly from: Point;
  readonly to: Point;
}

export interface TrackedBox {
  readonly label: string;
  readonly box: readonly [number, number, number, number];
  readonly trackId?: number | undefined;
}

export interface ZoneLabelCounts {
  /** Distinct objects that were inside at least once. */
  entered: number;
  /** Summed time objects stayed inside, ms (between frames seen inside, so a one-frame visit adds 0). */
  dwellMs: number;
  /** The longest one object stayed. */
  maxDwellMs: number;
}

export interface LineLabelCounts {
  /** Crossings from the right-hand side of the line (walking `from` → `to` on screen) to its left: for a line drawn left to right, objects moving up. */
  in: number;
  /** Crossings the other way. */
  out: number;
}

/**
 * What one frame changed, as it happened (a stream's live events): an object came into a zone, went out of it (with
 * how long that visit lasted), or crossed a line.
 */
export type ZoneEvent =
  | { type: 'entered'; zone: string; label: string; trackId: number }
  | { type: 'left'; zone: string; label: string; trackId: number; dwellMs: number }
  | { type: 'crossed'; line: string; direction: 'in' | 'out'; label: string; trackId: number };

export interface ZoneReport {
  zones: { name: string; labels: Record<string, ZoneLabelCounts> }[];
  lines: { name: string; labels: Record<string, LineLabelCounts> }[];
}

/** What a zone or line counter remembers of one object. */
interface ObjectState {
  label: string;
  lastMs: number;
  point: Point;
  /** Per zone: ms inside so far, and whether it was inside at its last frame (absent: never inside). */
  inside: Record<string, { dwellMs: number; now: boolean }>;
  /** Per line: the side it was last seen on, off the line (1: right, -1: left). */
  sides: Record<string, number>;
}

export interface ZoneCounterState {
  v: 1;
  objects: Record<string, ObjectState>;
  crossings: Record<string, Record<string, LineLabelCounts>>;
  /** Objects that ended (not seen for `forgetMs`), folded into their zones' counts. */
  done: Record<string, Record<string, ZoneLabelCounts>>;
}

export interface ZoneSettings {
  zones: readonly ZoneSpec[];
  lines: readonly LineSpec[];
  /** An object not seen for this long is folded into the counts and forgotten (its state bounded). */
  forgetMs: number;
}

export class ZoneCounter {
  private state: ZoneCounterState = { v: 1, objects: {}, crossings: {}, done: {} };

  constructor(private readonly settings: ZoneSettings) {}

  /**
   * One frame at `ptsMs` (later than the last); detections without a trackId are not counted. Returns what changed
   * in it ({@link ZoneEvent}; the dwell of a visit that ends is its time inside so far, summed over its visits).
   */
  update(ptsMs: number, detections: readonly TrackedBox[]): ZoneEvent[] {
    const events: ZoneEvent[] = [];
    for (const d of detections) {
      if (d.trackId === undefined) continue;
      const id = String(d.trackId);
      const point: Point = [(d.box[0] + d.box[2]) / 2, d.box[3]];
      const seen = this.state.objects[id];
      const object: ObjectState = seen ?? { label: d.label, lastMs: ptsMs, point, inside: {}, sides: {} };
      const who = { label: object.label, trackId: d.trackId };
      for (const zone of this.settings.zones) {
        const inside = insidePolygon(point, zone.polygon);
        const was = object.inside[zone.name];
        if (inside) {
          object.inside[zone.name] = { dwellMs: (was?.dwellMs ?? 0) + (was?.now ? ptsMs - object.lastMs : 0), now: true };
          if (!was?.now) events.push({ type: 'entered', zone: zone.name, ...who });
        } else if (was?.now) {
          was.now = false;
          events.push({ type: 'left', zone: zone.name, ...who, dwellMs: was.dwellMs });
        }
      }
      for (const line of this.settings.lines) {
        const now = Math.sign(side(point, line));
        if (now === 0) continue; // on the line: counted once it is off it, on one side or the other
        const before = object.sides[line.name];
        object.sides[line.name] = now;
        if (before === undefined || before === now || !crossesSegment(object.point, point, line)) continue;
        const counts = ((this.state.crossings[line.name] ??= {})[object.label] ??= { in: 0, out: 0 });
        const direction = before > 0 ? 'in' : 'out';
        counts[direction]++;
        events.push({ type: 'crossed', line: line.name, direction, ...who });
      }
      object.point = point;
      object.lastMs = ptsMs;
      this.state.objects[id] = object;
    }
    for (const [id, object] of Object.entries(this.state.objects)) {
      if (ptsMs - object.lastMs > this.settings.forgetMs) {
        for (const [zone, visit] of Object.entries(object.inside)) {
          if (visit.now) events.push({ type: 'left', zone, label: object.label, trackId: Number(id), dwellMs: visit.dwellMs });
        }
        this.fold(object);
        delete this.state.objects[id];
      }
    }
    return events;
  }

  /** The counts so far (objects still on screen included). */
  report(): ZoneReport {
    const zones = this.settings.zones.map((zone) => {
      const labels: Record<string, ZoneLabelCounts> = structuredClone(this.state.done[zone.name] ?? {});
      for (const object of Object.values(this.state.objects)) addVisit(labels, object, zone.name);
      return { name: zone.name, labels: sortedByLabel(labels) };
    });
    const lines = this.settings.lines.map((line) => ({ name: line.name, labels: sortedByLabel(structuredClone(this.state.crossings[line.name] ?? {})) }));
    return { zones, lines };
  }

  toJSON(): ZoneCounterState {
    return structuredClone(this.state);
  }

  static fromJSON(settings: ZoneSettings, state: ZoneCounterState): ZoneCounter {
    if (state?.v !== 1 || typeof state.objects !== 'object' || typeof state.crossings !== 'object' || typeof state.done !== 'object') {
      throw new TypeError('not a zone counter state');
    }
    const counter = new ZoneCounter(settings);
    counter.state = structuredClone(state);
    return counter;
  }

  private fold(object: ObjectState): void {
    for (const zone of Object.keys(object.inside)) addVisit((this.state.done[zone] ??= {}), object, zone);
  }
}

function addVisit(labels: Record<string, ZoneLabelCounts>, object: ObjectState, zone: string): void {
  const visit = object.inside[zone];
  if (!visit) return;
  const counts = (labels[object.label] ??= { entered: 0, dwellMs: 0, maxDwellMs: 0 });
  counts.entered++;
  counts.dwellMs += visit.dwellMs;
  counts.maxDwellMs = Math.max(counts.maxDwellMs, visit.dwellMs);
}

function sortedByLabel<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Even-odd rule ray casting; a point on an edge may fall either way. The detector's region-of-interest filter uses it too. */
export function insidePolygon([x, y]: Point, polygon: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i]!;
    const [xj, yj] = polygon[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Which side of the line a point is on: > 0 right of `from` → `to` on screen (y down), < 0 left, 0 on it. */
function side(p: Point, line: LineSpec): number {
  return (line.to[0] - line.from[0]) * (p[1] - line.from[1]) - (line.to[1] - line.from[1]) * (p[0] - line.from[0]);
}

/** Whether the move a → b meets the line within its segment (a may lie on the line; b is off it). */
function crossesSegment(a: Point, b: Point, line: LineSpec): boolean {
  const sa = side(a, line);
  const sb = side(b, line);
  const t = sa === 0 ? 0 : sa / (sa - sb);
  const x = a[0] + t * (b[0] - a[0]);
  const y = a[1] + t * (b[1] - a[1]);
  const dx = line.to[0] - line.from[0];
  const dy = line.to[1] - line.from[1];
  const u = ((x - line.from[0]) * dx + (y - line.from[1]) * dy) / (dx * dx + dy * dy);
  return u >= 0 && u <= 1;
}
