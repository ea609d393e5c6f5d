import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { solveAssignment } from '../../../src/vision/tracking/assignment.js';

/** A seeded generator (mulberry32): the same matrices every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The best total of (maxCost − cost) over every one-to-one set of allowed pairs, by trying them all. */
function bruteForce(cost: number[][], maxCost: number): number {
  const rows = cost.length;
  const columns = cost[0]?.length ?? 0;
  const usedColumns = new Array<boolean>(columns).fill(false);
  const best = (r: number): number => {
    if (r === rows) return 0;
    let value = best(r + 1); // row r alone
    for (let c = 0; c < columns; c++) {
      const v = cost[r]![c]!;
      if (usedColumns[c] || !(v <= maxCost)) continue;
      usedColumns[c] = true;
      value = Math.max(value, maxCost - v + best(r + 1));
      usedColumns[c] = false;
    }
    return value;
  };
  return best(0);
}

function totalOf(cost: number[][], maxCost: number, rowToColumn: Int32Array): number {
  let total = 0;
  rowToColumn.forEach((c, r) => {
    if (c >= 0) total += maxCost - cost[r]![c]!;
  });
  return total;
}

describe('solveAssignment', () => {
  test('beats greedy: the best single pair is not part of the best assignment', () => {
    // Greedy takes (0, 0) at 0.1 and leaves row 1 with nothing under the gate; the optimum pairs both rows.
    const cost = [[0.1, 0.3], [0.2, 0.9]];
    const { rowToColumn, columnToRow } = solveAssignment(cost, 0.8);
    assert.deepEqual([...rowToColumn], [1, 0]);
    assert.deepEqual([...columnToRow], [1, 0]);
  });

  test('pairs over the gate, Infinity and NaN are never made; a pair exactly at the gate is', () => {
    const cost = [[0.9, Infinity], [NaN, 0.5], [0.8, 0.95]];
    const { rowToColumn } = solveAssignment(cost, 0.8);
    assert.deepEqual([...rowToColumn], [-1, 1, 0]);
    assert.deepEqual([...solveAssignment([[Infinity, Infinity]], 0.8).rowToColumn], [-1]);
  });

  test('empty sides give empty answers', () => {
    assert.deepEqual(solveAssignment([], 1), { rowToColumn: new Int32Array(0), columnToRow: new Int32Array(0) });
    const noColumns = solveAssignment([[], []], 1);
    assert.deepEqual([...noColumns.rowToColumn], [-1, -1]);
  });

  test('optimal on 2000 random matrices up to 6 × 6 (both shapes), as trying every assignment finds', () => {
    const next = random(15);
    for (let k = 0; k < 2000; k++) {
      const rows = 1 + Math.floor(next() * 6);
      const columns = 1 + Math.floor(next() * 6);
      const maxCost = 0.3 + next() * 0.7;
      const cost = Array.from({ length: rows }, () => Array.from({ length: columns }, () => {
        const x = next();
        return x < 0.15 ? Infinity : x < 0.2 ? 1 : Math.round(next() * 20) / 20; // ties on purpose
      }));
      const { rowToColumn, columnToRow } = solveAssignment(cost, maxCost);
      const where = `matrix ${k}: ${JSON.stringify(cost)} gate ${maxCost}`;
      // One to one, each pair allowed, the two maps agreeing.
      rowToColumn.forEach((c, r) => {
        if (c < 0) return;
        assert.ok(cost[r]![c]! <= maxCost, where);
        assert.equal(columnToRow[c], r, where);
      });
      assert.equal([...columnToRow].filter((r) => r >= 0).length, [...rowToColumn].filter((c) => c >= 0).length, where);
      assert.ok(Math.abs(totalOf(cost, maxCost, rowToColumn) - bruteForce(cost, maxCost)) < 1e-9, where);
    }
  });
});
