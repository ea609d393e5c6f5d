import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SlotScript, annotatedKind, annotationStyle, classColor, filterGraph, fitLabel, labelText } from '../../src/media/annotate.js';
import type { Detection } from '../../src/contracts/messages.js';

const style = annotationStyle(640, 360, true); // lines 2 px, labels 12 px
const dog: Detection = { label: 'dog', classId: 16, score: 0.85, box: [100, 50, 300, 350] };
const car: Detection = { label: 'car', classId: 2, score: 0.9, box: [400.4, 10.6, 600, 100] };

/** The commands of one sendcmd interval, without its time. */
function commands(line: string): string[] {
  const match = /^\d+\.\d{6} \[enter\] (.*);\n$/.exec(line);
  assert.ok(match, `not one interval: ${JSON.stringify(line)}`);
  return match[1]!.split(', ');
}

describe('SlotScript', () => {
  test('the style scales with the picture', () => {
    assert.deepEqual(style, { width: 640, height: 360, thickness: 2, fontSize: 12, labels: true });
    assert.deepEqual(annotationStyle(3840, 2160, false), { width: 3840, height: 2160, thickness: 12 > 8 ? 8 : 12, fontSize: 48, labels: false });
    assert.deepEqual(annotationStyle(100, 60, true), { width: 100, height: 60, thickness: 2, fontSize: 10, labels: true });
  });

  test('the first frame places, colours, labels and shows every box, the best one in slot 0', () => {
    const script = new SlotScript(style, { maxBoxes: 100, halfFrameS: 0.02 });
    const line = script.frame({ frame: 0, ptsMs: 0, detections: [dog, car] });
    assert.ok(line.startsWith('0.000000 [enter] '), 'a frame at 0 is not moved before 0');
    assert.deepEqual(commands(line), [
      // car (0.90): rounded to whole pixels, its colour and readable ink, the label inside the box's top left
      'drawbox@b0 x 400', 'drawbox@b0 y 11', 'drawbox@b0 w 200', 'drawbox@b0 h 89', 'drawbox@b0 c 0xFFE119', 'drawbox@b0 enable 1',
      "drawtext@t0 reinit 'text=car 0.90:x=402:y=13:fontcolor=black:boxcolor=0xFFE119@0.75'", 'drawtext@t0 enable 1',
      'drawbox@b1 x 100', 'drawbox@b1 y 50', 'drawbox@b1 w 200', 'drawbox@b1 h 300', 'drawbox@b1 c 0x808000', 'drawbox@b1 enable 1',
      "drawtext@t1 reinit 'text=dog 0.85:x=102:y=52:fontcolor=black:boxcolor=0x808000@0.75'", 'drawtext@t1 enable 1',
    ]);
    assert.equal(script.slots, 2);
  });

  test('only what changed is sent; a frame that changes nothing writes nothing', () => {
    const script = new SlotScript(style, { maxBoxes: 100, halfFrameS: 0.02 });
    script.frame({ frame: 0, ptsMs: 0, detections: [dog] });
    assert.equal(script.frame({ frame: 1, ptsMs: 40, detections: [dog] }), '');
    const moved = script.frame({ frame: 2, ptsMs: 80, detections: [{ ...dog, box: [110, 50, 310, 350] }] });
    // Half a source frame before the frame's time, so that the frame itself already shows it.
    assert.ok(moved.startsWith('0.060000 [enter] '));
    assert.deepEqual(commands(moved), ['drawbox@b0 x 110', "drawtext@t0 reinit 'x=112'"]);
    const rescored = script.frame({ frame: 3, ptsMs: 120, detections: [{ ...dog, score: 0.5, box: [110, 50, 310, 350] }] });
    assert.deepEqual(commands(rescored), ["drawtext@t0 reinit 'text=dog 0.50'"]);
  });

  test('fewer boxes than before: the spare slots are hidden, and shown again when needed', () => {
    const script = new SlotScript(style, { maxBoxes: 100, halfFrameS: 0.02 });
    script.frame({ frame: 0, ptsMs: 0, detections: [dog, car] });
    const one = script.frame({ frame: 1, ptsMs: 40, detections: [car] });
    assert.deepEqual(commands(one), ['drawbox@b1 enable 0', 'drawtext@t1 enable 0']);
    const none = script.frame({ frame: 2, ptsMs: 80, detections: [] });
    assert.deepEqual(commands(none), ['drawbox@b0 enable 0', 'drawtext@t0 enable 0']);
    assert.equal(script.frame({ frame: 3, ptsMs: 120, detections: [] }), '');
    // Slot 1 still holds the dog's place and text: showing it again needs only "enable".
    const back = script.frame({ frame: 4, ptsMs: 160, detections: [car, dog] });
    assert.deepEqual(commands(back), ['drawbox@b0 enable 1', 'drawtext@t0 enable 1', 'drawbox@b1 enable 1', 'drawtext@t1 enable 1']);
    assert.equal(script.slots, 2);
  });

  test('end() hides every box one frame after the last; nothing to hide, or a single image, writes nothing', () => {
    const script = new SlotScript(style, { maxBoxes: 100, halfFrameS: 0.02 });
    script.frame({ frame: 0, ptsMs: 0, detections: [dog] });
    script.frame({ frame: 1, ptsMs: 40, detections: [dog, car] });
    const end = script.end();
    assert.ok(end.startsWith('0.060000 [enter] '), end);
    assert.deepEqual(commands(end), ['drawbox@b0 enable 0', 'drawtext@t0 enable 0', 'drawbox@b1 enable 0', 'drawtext@t1 enable 0']);

    const image = new SlotScript(style, { maxBoxes: 100, halfFrameS: 0.0005 });
    image.frame({ frame: 0, ptsMs: 0, detections: [dog] });
    assert.equal(image.end(), '');

    const empty = new SlotScript(style, { maxBoxes: 100, halfFrameS: 0.02 });
    empty.frame({ frame: 0, ptsMs: 0, detections: [] });
    empty.frame({ frame: 1, ptsMs: 40, detections: [] });
    assert.equal(empty.end(), '');
    assert.equal(new SlotScript(style, { maxBoxes: 100, halfFrameS: 0.02 }).end(), '');
  });

  test('at most maxBoxes boxes, the best ones', () => {
    const script = new SlotScript(style, { maxBoxes: 1, halfFrameS: 0.02 });
    const line = script.frame({ frame: 0, ptsMs: 0, detections: [dog, car] });
    assert.equal(script.slots, 1);
    assert.ok(line.includes('text=car') && !line.includes('text=dog') && !line.includes('@b1'));
  });

  test('boxes are clipped to the picture; a label that does not fit is shortened, then left out', () => {
    const script = new SlotScript(style, { maxBoxes: 100, halfFrameS: 0.02 });
    const outside = script.frame({ frame: 0, ptsMs: 0, detections: [{ ...dog, box: [-5, -5, 700, 400] }] });
    assert.deepEqual(commands(outside).slice(0, 4), ['drawbox@b0 x 0', 'drawbox@b0 y 0', 'drawbox@b0 w 640', 'drawbox@b0 h 360']);
    // 40 px wide: "dog 0.85" needs 8 × 12 × 0.66 + 2 ≈ 66 px, "dog" 26 px.
    const narrow = script.frame({ frame: 1, ptsMs: 40, detections: [{ ...dog, box: [100, 50, 140, 350] }] });
    assert.ok(commands(narrow).includes("drawtext@t0 reinit 'text=dog:x=102:y=52'"), narrow);
    // 10 px high: no room for a 12 px label.
    const flat = script.frame({ frame: 2, ptsMs: 80, detections: [{ ...dog, box: [100, 50, 300, 60] }] });
    assert.ok(commands(flat).includes('drawtext@t0 enable 0'), flat);
    assert.ok(!flat.includes('reinit'), flat);
  });

  test('without a font only boxes are drawn', () => {
    const script = new SlotScript(annotationStyle(640, 360, false), { maxBoxes: 100, halfFrameS: 0.02 });
    const line = script.frame({ frame: 0, ptsMs: 0, detections: [dog, car] });
    assert.ok(line.includes('drawbox@b1 enable 1'));
    assert.ok(!line.includes('drawtext'), line);
  });
});

describe('filterGraph', () => {
  test('sendcmd first, then one drawbox per slot (best on top), then the labels over every box', () => {
    const filters = filterGraph(2, style, false).trimEnd().split(',\n');
    const at = (prefix: string) => filters.findIndex((f) => f.startsWith(prefix));
    assert.ok(at('sendcmd=f=commands.txt') >= 0);
    assert.ok(at('sendcmd=') < at('drawbox@b1=') && at('drawbox@b1=') < at('drawbox@b0='));
    assert.ok(at('drawbox@b0=') < at('drawtext@t1=') && at('drawtext@t1=') < at('drawtext@t0='));
    assert.ok(filters[at('drawbox@b0=')]!.includes(':t=2:'));
    assert.ok(filters[at('drawtext@t0=')]!.includes('fontfile=font.ttf') && filters[at('drawtext@t0=')]!.includes('fontsize=12'));
    assert.ok(filters[at('drawtext@t0=')]!.includes('expansion=none'), 'labels are never expanded as %{…}');
    assert.equal(at('pad='), -1);
    assert.ok(filterGraph(2, style, false).endsWith('\n'));
  });

  test('odd sizes get one row or column of padding last; no slots, no labels: no sendcmd, no drawing', () => {
    const padded = filterGraph(1, style, true).trimEnd().split(',\n');
    assert.equal(padded.at(-1), 'pad=w=ceil(iw/2)*2:h=ceil(ih/2)*2');
    const bare = filterGraph(0, annotationStyle(640, 360, false), false);
    assert.ok(bare.trim().length > 0, 'a graph ffmpeg accepts');
    assert.doesNotMatch(bare, /sendcmd|drawbox|drawtext/);
    assert.equal(filterGraph(3, annotationStyle(640, 360, false), false).match(/drawtext/g), null);
  });
});

test('labelText keeps letters, digits, spaces and a few marks; the rest becomes "_", and it is cut at 64', () => {
  assert.equal(labelText('traffic light'), 'traffic light');
  assert.equal(labelText('Ölbaum-2 (x.y/z+&)'), 'Ölbaum-2 (x.y/z+&)');
  // Quote, colon, comma, semicolon, backslash, percent, brackets: what could break out of sendcmd or drawtext.
  assert.equal(labelText("a'b:c,d;e\\f%g[h]{i}"), 'a_b_c_d_e_f_g_h__i_');
  assert.equal(labelText('x'.repeat(100)).length, 64);
});

test('annotatedKind: video and image names by extension, any case; anything else is undefined', () => {
  for (const name of ['out.mp4', 'OUT.MP4', 'a/b.m4v', 'clip.mov', 'clip.mkv', 'x.annotated.mp4']) assert.equal(annotatedKind(name), 'video', name);
  for (const name of ['a.png', 'a.jpg', 'A.JPEG']) assert.equal(annotatedKind(name), 'image', name);
  for (const name of ['a.gif', 'notes.txt', 'folder', 'mp4', '.mp4x']) assert.equal(annotatedKind(name), undefined, name);
});

test('classColor: a colour and a readable ink per class id, wrapping around the palette', () => {
  assert.deepEqual(classColor(2), ['0xFFE119', 'black']);
  assert.deepEqual(classColor(22), classColor(2));
  assert.deepEqual(classColor(-18), classColor(2));
});

test('fitLabel: a tracked object shows its id, "label #id score", shortened to what fits the box', () => {
  const d = { label: 'person', score: 0.874, trackId: 12 };
  assert.equal(fitLabel(d, 400, 100, 16), 'person #12 0.87');
  assert.equal(fitLabel(d, 120, 100, 16), 'person #12');
  assert.equal(fitLabel(d, 70, 100, 16), 'person');
  assert.equal(fitLabel(d, 60, 100, 16), undefined);
  assert.equal(fitLabel({ label: 'person', score: 0.874 }, 400, 100, 16), 'person 0.87');
  assert.equal(fitLabel(d, 400, 16, 16), undefined, 'too low for the font');
});
