import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readImportGraph } from '../../scripts/import-graph.js';

/** The floors of src/ (scripts/import-graph.ts, run by `npm run lint` too): the house as it is, and the rules' teeth. */
describe('import graph', () => {
  test('src/: no import across a floor, no circle, no adapter library outside its rooms, no folder over a quarter of the code', () => {
    const report = readImportGraph('src');
    assert.deepEqual(report.violations.map((v) => `${v.edge.from} → ${v.edge.to}: ${v.why}`), []);
    assert.deepEqual(report.cycles, []);
    assert.deepEqual(report.packageImports.map((p) => `${p.file} imports ${p.pkg}`), []);
    assert.ok(report.edges.length > 500, `read ${report.edges.length} imports`);
    const total = Object.values(report.linesPerFolder).reduce((a, b) => a + b, 0);
    for (const [folder, lines] of Object.entries(report.linesPerFolder)) assert.ok(lines < total / 4, `src/${folder}: ${lines} of ${total} lines`);
  });

  test('a role importing a role, a stage importing an adapter, a platform file importing upward and a circle are each found', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'vdet-imports-'));
    try {
      const write = (file: string, text: string) => {
        mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
        writeFileSync(path.join(root, file), text);
      };
      write('api/app.ts', "import { merge } from '../merger/app.js';\nimport type { Store } from '../store/mongo.js';\nimport type { Db } from 'mongodb';\nexport const a = merge;\n");
      write('merger/app.ts', "export const merge = 1;\n");
      write('store/mongo.ts', "export interface Store { x: number }\n");
      write('vision/tensor.ts', "import type { Store } from '../store/mongo.js';\nexport type T = Store;\n");
      write('platform/config.ts', "import { x } from '../contracts/topics.js';\nexport const c = x;\n");
      write('contracts/topics.ts', "export const x = 1;\n");
      write('media/a.ts', "import { b } from './b.js';\nexport const a = b;\n");
      write('media/b.ts', "import { a } from './a.js';\nexport const b = () => a;\n");
      write('detector/decode.ts', "import sharp from 'sharp';\nimport type { Kafka } from 'kafkajs';\nexport const d = [sharp, 1 as unknown as Kafka];\n");
      const report = readImportGraph(root);
      const rel = (file: string) => path.relative(root, file);
      assert.deepEqual(report.violations.map((v) => `${rel(v.edge.from)} → ${rel(v.edge.to)}`).sort(), [
        'api/app.ts → merger/app.ts', 'platform/config.ts → contracts/topics.ts', 'vision/tensor.ts → store/mongo.ts',
      ]);
      assert.deepEqual(report.cycles.map((c) => c.map(rel)), [['media/a.ts', 'media/b.ts', 'media/a.ts']]);
      assert.deepEqual(report.packageImports.map((p) => `${rel(p.file)} ${p.pkg}`), ['api/app.ts mongodb', 'detector/decode.ts sharp', 'detector/decode.ts kafkajs']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
