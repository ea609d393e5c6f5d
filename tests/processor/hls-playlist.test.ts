import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseVariant, parsePlaylist, PlaylistInvalid } from '../../src/processor/hls-playlist.js';

test('a live media playlist: segments with their sequence numbers and durations, resolved against the playlist', () => {
  const playlist = parsePlaylist('#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:41\n#EXTINF:2.000,\nseg41.ts\n#EXTINF:1.5,\n/abs/seg42.ts?t=1\n', 'https://cam.example.com/live/index.m3u8');
  assert.deepEqual(playlist, {
    kind: 'media', targetDurationS: 2, ended: false,
    segments: [
      { url: 'https://cam.example.com/live/seg41.ts', sequence: 41, durationS: 2 },
      { url: 'https://cam.example.com/abs/seg42.ts?t=1', sequence: 42, durationS: 1.5 },
    ],
  });
  const ended = parsePlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n', 'http://h/p.m3u8');
  assert.ok(ended.kind === 'media' && ended.ended, 'EXT-X-ENDLIST ends it');
});

test('a master playlist: its variants; the best one up to 1080 lines is pulled', () => {
  const playlist = parsePlaylist([
    '#EXTM3U',
    '#EXT-X-STREAM-INF:BANDWIDTH=8000000,RESOLUTION=3840x2160,CODECS="avc1.640033"', '4k/index.m3u8',
    '#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1920x1080', 'hd/index.m3u8',
    '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360', 'sd/index.m3u8',
  ].join('\n'), 'http://cdn.example.com/cam/master.m3u8');
  assert.equal(playlist.kind, 'master');
  if (playlist.kind !== 'master') return;
  assert.deepEqual(playlist.variants.map((v) => [v.bandwidth, v.height]), [[8_000_000, 2160], [3_000_000, 1080], [800_000, 360]]);
  assert.equal(chooseVariant(playlist.variants).url, 'http://cdn.example.com/cam/hd/index.m3u8');
  assert.equal(chooseVariant([playlist.variants[0]!]).height, 2160, 'only a larger one: that one');
});

test('what vdet cannot pull is refused with a reason: not HLS, fragmented MP4, encrypted segments, no target duration', () => {
  for (const [text, reason] of [
    ['<html>', /not an HLS playlist/],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2,\na.m4s', /fragmented MP4/],
    ['#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI="k"\n#EXTINF:2,\na.ts', /encrypted/],
    ['#EXTM3U\n#EXTINF:2,\na.ts', /TARGETDURATION/],
  ] as const) {
    assert.throws(() => parsePlaylist(text, 'http://h/p.m3u8'), (e: unknown) => e instanceof PlaylistInvalid && reason.test(e.message));
  }
  assert.equal(parsePlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:2,\na.ts', 'http://h/p.m3u8').kind, 'media');
});
