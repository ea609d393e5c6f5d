/**
 * Optimal assignment with a gate: pairs rows with columns one to one so that the total of `maxCost − cost` over the
 * pairs is the largest, using only pairs with `cost ≤ maxCost` (others, Infinity or NaN included, are forbidden;
 * a row or column may stay alone). It is the problem ByteTrack hands lapjv with `cost_limit`: with costs 1 − IoU,
 * the pairs with the most overlap in all, never two boxes below the IoU gate.
 *
 * Solved by the Hungarian method in its shortest-augmenting-path form (Jonker–Volgenant's potentials), O(n² m) for
 * n ≤ m; forbidden pairs weigh nothing and are dropped from the answer, which keeps every row assignable.
 */
export interface Assignment {
  /** Per row, its column, or -1. */
  readonly rowToColumn: Int32Array;
  /** Per column, its row, or -1. */
  readonly columnToRow: Int32Array;
}

const TIE_BREAK = 1e-12;

/** `cost[row][column]`; every row as long as the first. */
export function solveAssignment(cost: readonly (readonly number[])[], maxCost: number): Assignment {
  const rows = cost.length;
  const columns = rows === 0 ? 0 : cost[0]!.length;
  const rowToColumn = new Int32Array(rows).fill(-1);
  const columnToRow = new Int32Array(columns).fill(-1);
  if (rows === 0 || columns === 0) return { rowToColumn, columnToRow };
  const allowed = (r: number, c: number) => {
    const v = cost[r]![c]!;
    return v <= maxCost; // false for NaN
  };
  // Minimise −(maxCost − cost) over a full assignment of the shorter side; forbidden pairs cost 0, and each allowed
  // one a hair less, so that of equally good answers the one with the most pairs wins (a pair at the gate is made).
  const transpose = rows > columns;
  const n = transpose ? columns : rows;
  const m = transpose ? rows : columns;
  const weight = (i: number, j: number) => {
    const [r, c] = transpose ? [j, i] : [i, j];
    return allowed(r, c) ? cost[r]![c]! - maxCost - TIE_BREAK : 0;
  };
  const match = hungarian(n, m, weight);
  for (let j = 0; j < m; j++) {
    const i = match[j]!;
    if (i < 0) continue;
    const [r, c] = transpose ? [j, i] : [i, j];
    if (!allowed(r, c)) continue;
    rowToColumn[r] = c;
    columnToRow[c] = r;
  }
  return { rowToColumn, columnToRow };
}

/**
 * Minimum-cost assignment of all n rows to distinct columns of m ≥ n (e-maxx's formulation, 1-based potentials).
 * Returns, per column, its row or -1.
 */
function hungarian(n: number, m: number, a: (i: number, j: number) => number): Int32Array {
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1); // p[j]: the row (1-based) on column j; 0: none
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = a(i0 - 1, j - 1) - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]!]! += delta;
          v[j]! -= delta;
        } else {
          minv[j]! -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const match = new Int32Array(m).fill(-1);
  for (let j = 1; j <= m; j++) if (p[j]! > 0) match[j - 1] = p[j]! - 1;
  return match;
}
