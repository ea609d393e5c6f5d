import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import { boxIou } from '../../src/vision/yolox.js';
import { evaluateTracks } from '../../src/vision/tracking/index.js';
import { zoneSettingsOf } from '../../src/results/tracks.js';
import { ZoneCounter } from '../../src/vision/zones.js';
import { allDetections, authHeaders, getJob, submitJob, uploadFile, waitForJob, type FrameItem, type JobView, type Target } from '../helpers/client.js';
import { TOUR_VIDEO } from '../helpers/paths.js';
import { apiUrl, startRole, waitStarted, type RunningRole } from '../helpers/roles.js';
import { createTestEnv } from '../helpers/stack.js';
import { describeEvaluation, loadTourTracks, trackingTargetProblems } from '../helpers/tracks.js';

/**
 * Tracking through the service: two detectors (the tour video's chunks are detected out of order), a processor, a
 * merger that tracks in frame order from its state in MongoDB, and the api, each its own process on the real stack.
 */
type Tracked = FrameItem['detections'][number] & { trackId?: number };
interface Track {
  trackId: number; label: string; firstFrame: number; lastFrame: number; firstMs: number; lastMs: number; frames: number;
  bestScore: number; firstBox: number[]; lastBox: number[];
}

/** The tracked job's zones and lines (the tour video is 640×360): its left half, and the line down its middle. */
const REGIONS = {
  zones: [{ name: 'left half', polygon: [[0, 0], [320, 0], [320, 360], [0, 360]] as [number, number][] }],
  lines: [{ name: 'middle', from: [320, 0] as [number, number], to: [320, 360] as [number, number] }],
};

describe('tracking: a job\'s objects keep their ids through the service', () => {
  const KEY = `vdet_tracking_${Date.now()}_0123456789abcdef`;
  const stack = createTestEnv({
    VDET_LOG_LEVEL: 'info', VDET_BOOTSTRAP_KEY: KEY, VDET_TOPIC_PARTITIONS: '4', VDET_DEVICES: 'cpu',
    VDET_WIRE_FORMAT: 'raw', // 16-frame chunks: 25 of them, so tracking steps stop at their bound and carry on
  });
  const roles: RunningRole[] = [];
  let api: Target;
  let trackedId = '';
  let untrackedId = '';
  let tracked: { job: JobView & { objects?: Record<string, number> }; frames: FrameItem[] };
  let untracked: { job: JobView & { objects?: Record<string, number> }; frames: FrameItem[] };
  const get = (path: string) => fetch(`${api.base}/v1/jobs/${path}`, { headers: authHeaders(api) });

  before(async () => {
    for (const role of ['merger', 'detector', 'detector', 'processor', 'api']) roles.push(startRole(role, stack.env));
    await waitStarted(roles);
    api = { base: await apiUrl(roles.find((r) => r.role === 'api')!), key: KEY };
    [trackedId, untrackedId] = await Promise.all([submitJob(api, TOUR_VIDEO, REGIONS), submitJob(api, TOUR_VIDEO, { track: false })]);
    const load = async (id: string) => {
      const job = await waitForJob(api, id, 600_000);
      assert.equal(job.status, 'done', JSON.stringify(job.error));
      return { job, frames: await allDetections(api, id, 137) };
    };
    [tracked, untracked] = [await load(trackedId), await load(untrackedId)];
  });

  after(async () => {
    for (const role of roles) {
      const code = await role.stop();
      if (code !== 0) console.error(`${role.role} exited ${code}:\n${role.output().slice(-3000)}`);
    }
    await stack.cleanup();
  });

  test('the tour video: each object on screen ≥ 4 s keeps one id on ≥ 95 % of its boxes, no two share one', (t) => {
    assert.equal(tracked.frames.length, 400);
    const detections = tracked.frames.flatMap((f) => f.detections as Tracked[]);
    assert.ok(detections.every((d) => d.trackId === undefined || (Number.isInteger(d.trackId) && d.trackId >= 1)));
    for (const f of tracked.frames) {
      const ids = (f.detections as Tracked[]).flatMap((d) => (d.trackId === undefined ? [] : [d.trackId]));
      assert.equal(new Set(ids).size, ids.length, `frame ${f.frame}: an id twice`);
    }
    const e = evaluateTracks(loadTourTracks(), tracked.frames, { fps: 25 });
    for (const line of describeEvaluation(e)) t.diagnostic(line);
    t.diagnostic(`${detections.filter((d) => d.trackId !== undefined).length} of ${detections.length} stored detections on a track`);
    assert.equal(e.longObjects.length, 4);
    assert.deepEqual(trackingTargetProblems(e), []);
    assert.ok(e.idf1 >= 0.9, `IDF1 ${e.idf1}`);

    // The job and its summary count distinct objects per label beside detections.
    const objects: Record<string, Set<number>> = {};
    for (const d of detections) if (d.trackId !== undefined) (objects[d.label] ??= new Set()).add(d.trackId);
    const expected = Object.fromEntries(Object.entries(objects).map(([label, ids]) => [label, ids.size]));
    assert.deepEqual(tracked.job.objects, expected);
    for (const label of ['dog', 'bicycle', 'horse', 'person', 'bird']) assert.ok((expected[label] ?? 0) >= 1, label);
  });

  test('the summary: objects per label beside the detections', async () => {
    const summary = (await (await get(`${trackedId}/summary`)).json()) as { labels: Record<string, { detections: number; objects?: number }> };
    for (const [label, s] of Object.entries(summary.labels)) {
      assert.equal(s.detections, tracked.job.counts[label], label);
      assert.equal(s.objects, tracked.job.objects?.[label] ?? 0, label);
    }
  });

  test('track: false: no trackId, no objects, and the same detections', async (t) => {
    assert.equal(untracked.job.objects, undefined);
    assert.ok(untracked.frames.every((f) => (f.detections as Tracked[]).every((d) => d.trackId === undefined)));
    assert.equal(untracked.frames.length, tracked.frames.length);
    // Two runs through the model's batches differ in the last bits (as in the fault suite): boxes pair one to one, same
    // label, IoU > 0.99, scores within 0.01; only a box at the edge of minScore (0.3) may be on one side alone.
    const alone: number[] = [];
    let paired = 0;
    for (const [i, frame] of untracked.frames.entries()) {
      const other = [...tracked.frames[i]!.detections];
      assert.equal(frame.frame, tracked.frames[i]!.frame);
      for (const d of frame.detections) {
        const j = other.findIndex((o) => o.label === d.label && boxIou(o.box, d.box) > 0.99 && Math.abs(o.score - d.score) < 0.01);
        if (j < 0) alone.push(d.score);
        else {
          other.splice(j, 1);
          paired++;
        }
      }
      alone.push(...other.map((o) => o.score));
    }
    t.diagnostic(`${paired} detections paired; alone on one side: ${alone.length ? alone.join(', ') : 'none'}`);
    assert.ok(alone.every((score) => score < 0.31), `unpaired detections scoring ${alone.join(', ')}`);
    assert.ok(alone.length <= 3, `${alone.length} unpaired`);
    const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total(untracked.job.counts) - total(tracked.job.counts)) <= alone.length);
    const summary = (await (await get(`${untrackedId}/summary`)).json()) as { labels: Record<string, { objects?: number }> };
    assert.ok(Object.values(summary.labels).every((s) => s.objects === undefined));
    const tracks = (await (await get(`${untrackedId}/tracks`)).json()) as { items: unknown[] };
    assert.deepEqual(tracks.items, []);
    assert.equal(await (await get(`${untrackedId}/export?format=mot`)).text(), '');
  });

  test('zones and lines: what the merger counted chunk by chunk is what its stored tracks say, in the view and the summary', async () => {
    const settings = zoneSettingsOf(REGIONS)!;
    const counter = new ZoneCounter(settings);
    for (const f of tracked.frames) counter.update(f.ptsMs, f.detections);
    const expected = counter.report();
    const view = (await (await get(`${trackedId}/zones`)).json()) as { status: string } & ReturnType<ZoneCounter['report']>;
    assert.deepEqual({ zones: view.zones, lines: view.lines }, expected);
    assert.equal(view.status, 'done');
    assert.ok(expected.zones[0]!.labels['person']!.entered > 0, JSON.stringify(expected));
    assert.ok(Object.values(expected.lines[0]!.labels).some((c) => c.in + c.out > 0), JSON.stringify(expected));
    const summary = (await (await get(`${trackedId}/summary`)).json()) as ReturnType<ZoneCounter['report']>;
    assert.deepEqual({ zones: summary.zones, lines: summary.lines }, expected);
    assert.deepEqual(await (await get(`${untrackedId}/zones`)).json(), { id: untrackedId, status: 'done', zones: [], lines: [] });
    for (const [options, pattern] of [
      [{ ...REGIONS, track: false }, /zones.*track: false/],
      [{ zones: [REGIONS.zones[0], REGIONS.zones[0]] }, /"left half" is used twice/],
      [{ lines: [{ name: 'dot', from: [5, 5], to: [5, 5] }] }, /"dot" starts where it ends/],
    ] as const) {
      const response = await uploadFile(api, TOUR_VIDEO, options);
      const body = (await response.json()) as { code: string; detail: string };
      assert.deepEqual([response.status, body.code], [400, 'VDET_OPTIONS_INVALID'], JSON.stringify(body));
      assert.match(body.detail, pattern);
    }
  });

  test('the tracks endpoints agree with the detections', async () => {
    const expected = new Map<number, Track>();
    for (const f of tracked.frames) {
      for (const d of f.detections as Tracked[]) {
        if (d.trackId === undefined) continue;
        const t = expected.get(d.trackId);
        if (!t) {
          expected.set(d.trackId, { trackId: d.trackId, label: d.label, firstFrame: f.frame, lastFrame: f.frame, firstMs: f.ptsMs, lastMs: f.ptsMs, frames: 1, bestScore: d.score, firstBox: d.box, lastBox: d.box });
        } else Object.assign(t, { lastFrame: f.frame, lastMs: f.ptsMs, frames: t.frames + 1, bestScore: Math.max(t.bestScore, d.score), lastBox: d.box });
      }
    }
    const listed: Track[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await get(`${trackedId}/tracks?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(response.status, 200);
      const page = (await response.json()) as { items: Track[]; next: string | null };
      listed.push(...page.items);
      cursor = page.next;
      pages++;
    } while (cursor);
    assert.deepEqual(listed, [...expected.values()].sort((a, b) => a.trackId - b.trackId));
    assert.ok(pages > 1);
    const dogs = (await (await get(`${trackedId}/tracks?label=dog`)).json()) as { items: Track[] };
    assert.deepEqual(dogs.items, listed.filter((t) => t.label === 'dog'));

    const longest = [...listed].sort((a, b) => b.frames - a.frames)[0]!;
    const one = (await (await get(`${trackedId}/tracks/${longest.trackId}`)).json()) as Track & { path: { frame: number; ptsMs: number; score: number; box: number[] }[] };
    const path = tracked.frames.flatMap((f) => (f.detections as Tracked[]).filter((d) => d.trackId === longest.trackId).map((d) => ({ frame: f.frame, ptsMs: f.ptsMs, score: d.score, box: d.box })));
    assert.deepEqual(one, { ...longest, path });
    assert.equal(path.length, longest.frames);
    const filtered = await allDetections(api, trackedId, 50, { trackId: String(longest.trackId) });
    assert.deepEqual(filtered.map((f) => ({ frame: f.frame, ptsMs: f.ptsMs, score: f.detections[0]!.score, box: f.detections[0]!.box })), path);
    assert.ok(filtered.every((f) => f.detections.length === 1));

    const missing = await get(`${trackedId}/tracks/${Math.max(...listed.map((t) => t.trackId)) + 1000}`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'VDET_TRACK_NOT_FOUND');
    assert.equal((await get(`${trackedId}/tracks/0`)).status, 400);
  });

  test('exports carry the ids: MOT lines, the CSV track_id column, COCO track_id', async () => {
    const flat = tracked.frames.flatMap((f) => (f.detections as Tracked[]).map((d) => ({ f, d })));
    const mot = await get(`${trackedId}/export?format=mot`);
    assert.equal(mot.status, 200);
    assert.match(mot.headers.get('content-disposition') ?? '', /filename="tour-640x360\.mot\.txt"/);
    const round = (v: number) => Math.round(v * 1000) / 1000;
    assert.deepEqual((await mot.text()).split('\n').filter(Boolean), flat.filter(({ d }) => d.trackId !== undefined).map(({ f, d }) => [
      f.frame + 1, d.trackId, d.box[0], d.box[1], round(d.box[2] - d.box[0]), round(d.box[3] - d.box[1]), d.score, -1, -1, -1,
    ].join(',')));

    const rows = (await (await get(`${trackedId}/export?format=csv`)).text()).split('\r\n').filter(Boolean);
    assert.equal(rows.shift(), 'frame,ms,label,class_id,score,x1,y1,x2,y2,track_id');
    assert.deepEqual(rows, flat.map(({ f, d }) => [f.frame, f.ptsMs, d.label, d.classId, d.score, ...d.box, d.trackId ?? ''].join(',')));

    const coco = (await (await get(`${trackedId}/export?format=coco`)).json()) as { annotations: { track_id?: number }[] };
    assert.deepEqual(coco.annotations.map((a) => a.track_id), flat.map(({ d }) => d.trackId));
  });

  test('in MongoDB: every chunk tracked, the record at the plan\'s end, no tracker-only boxes left', async () => {
    const mongo = new MongoClient(stack.config.mongo.url);
    await mongo.connect();
    try {
      const db = mongo.db(stack.config.mongo.database);
      const job = await db.collection('jobs').findOne({ _id: trackedId as never });
      const chunks = (job!['plan'] as { chunks: number }).chunks;
      assert.ok(chunks >= 25);
      assert.equal((await db.collection('job_tracking').findOne({ _id: trackedId as never }))?.['nextChunk'], chunks);
      const frames = await db.collection('frames').find({ jobId: trackedId }, { projection: { tracked: 1 } }).toArray();
      assert.equal(frames.length, chunks);
      assert.ok(frames.every((f) => f['tracked'] === true));
      const parts = await db.collection('job_chunks').find({ jobId: trackedId }, { projection: { trackOnly: 1, tracks: 1 } }).toArray();
      assert.ok(parts.every((p) => p['trackOnly'] === undefined && typeof p['tracks'] === 'string'));
      const jobTracks = job!['tracks'] as { count: number; paged: boolean };
      assert.equal(jobTracks.paged, true);
      const pages = await db.collection('track_pages').find({ jobId: trackedId }).toArray();
      assert.equal(pages.reduce((n, p) => n + (JSON.parse(p['data'] as string) as unknown[]).length, 0), jobTracks.count, 'every track on a page');
      assert.equal(await db.collection('job_tracking').countDocuments({ _id: untrackedId as never }), 0);
      // The untracked job's documents are as before tracking existed.
      const untrackedFrames = await db.collection('frames').find({ jobId: untrackedId }, { projection: { tracked: 1 } }).toArray();
      assert.ok(untrackedFrames.every((f) => f['tracked'] === undefined));
    } finally {
      await mongo.close();
    }
    assert.equal((await getJob(api, trackedId)).status, 'done');
  });
});
