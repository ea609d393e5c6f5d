import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DOC, renderTopicsParts, withParts } from '../../scripts/topics-doc.js';

describe('docs/topics.md', () => {
  test('its generated parts are what the contracts say now (npm run docs:topics rewrites them)', () => {
    const page = readFileSync(DOC, 'utf8');
    const parts = renderTopicsParts();
    assert.equal(withParts(page, parts), page, 'docs/topics.md has drifted from src/contracts/: run npm run docs:topics');
    for (const topic of ['vdet.jobs', 'vdet.chunks', 'vdet.detections', 'vdet.dlq', 'vdet.frames', 'vdet.results']) assert.match(parts.topics, new RegExp(`\`${topic}\``));
    // Every message field is listed: a field added to a schema shows as a new row.
    for (const field of ['`uploadId`', '`pixelFormat`', '`video.codec`', '`frames[].source`', '`frames[].trackOnly`', '`latencyMs`']) assert.ok(parts.fields.includes(field), field);
  });

  test('a page whose generated part was edited by hand, or lost, is found out', () => {
    const page = readFileSync(DOC, 'utf8');
    const edited = page.replace('| `vdet.jobs` | job id |', '| `vdet.jobs` | job key |');
    assert.notEqual(edited, page);
    assert.notEqual(withParts(edited, renderTopicsParts()), edited);
    assert.throws(() => withParts(page.replace(/<!-- end of fields -->/, ''), renderTopicsParts()), /no generated part "fields"/);
  });
});
