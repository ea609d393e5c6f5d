import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { mediaContentType, sniffMedia } from '../../src/media/media-sniff.js';
import { TOUR_VIDEO, imagePath } from '../helpers/paths.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

test('an upload is served as what its bytes are, from a fixed list', () => {
  assert.equal(mediaContentType(readFileSync(TOUR_VIDEO).subarray(0, 32)), 'video/mp4');
  assert.equal(mediaContentType(readFileSync(imagePath('dog')).subarray(0, 32)), 'image/jpeg');
  assert.equal(mediaContentType(bytes('\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ')), 'video/quicktime');
  assert.equal(mediaContentType(bytes('\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR')), 'image/png');
  assert.equal(mediaContentType(bytes('RIFF\x00\x00\x00\x00WEBPVP8 ')), 'image/webp');
  assert.equal(mediaContentType(bytes('\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm')), 'video/webm');
  assert.equal(mediaContentType(bytes('\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska')), 'video/x-matroska');
  const bmp = Buffer.alloc(32);
  bmp.write('BM', 0, 'latin1');
  bmp.writeUInt32LE(54, 10);
  bmp.writeUInt32LE(40, 14);
  assert.equal(mediaContentType(bmp), 'image/bmp');
});

test('bytes that are none of them — HTML after a BMP magic, plain HTML, nothing — are application/octet-stream', () => {
  for (const head of [bytes('BM<script>alert(document.domain)</script>'), bytes('<!doctype html><script>x</script>'), bytes('BM'), Buffer.alloc(0)]) {
    assert.equal(mediaContentType(head), 'application/octet-stream', head.toString('latin1'));
  }
  assert.equal(sniffMedia(bytes('BM<script>alert(document.domain)</script>')), false, 'refused at upload too (415)');
});
