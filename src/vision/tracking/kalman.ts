/**
 * ByteTrack's (and SORT's) Kalman filter, in place and allocation-light: state `[cx, cy, a, h, vcx, vcy, va, vh]`
 * (box centre, aspect ratio width / height, height, and their velocities per step), constant velocity, noise
 * proportional to the box's height. `dt` is the time since the last step in steps (1 for a steady frame rate), so a
 * skipped frame predicts twice as far.
 */

/** A filter's state: the mean (8 values) and the covariance (8 × 8, row by row). */
export interface KalmanState {
  readonly mean: Float64Array;
  readonly covariance: Float64Array;
}

/** Measurement: centre x, centre y, aspect ratio, height. */
export type Measurement = readonly [number, number, number, number];

const N = 8;
/** ByteTrack's weights: position and velocity noise as a share of the box's height. */
const POSITION_WEIGHT = 1 / 20;
const VELOCITY_WEIGHT = 1 / 160;

/** A new track's state: at the measurement, still, with a wide velocity uncertainty. */
export function initiateKalman(z: Measurement): KalmanState {
  const mean = new Float64Array(N);
  mean.set(z);
  const h = z[3];
  const std = [
    2 * POSITION_WEIGHT * h, 2 * POSITION_WEIGHT * h, 1e-2, 2 * POSITION_WEIGHT * h,
    10 * VELOCITY_WEIGHT * h, 10 * VELOCITY_WEIGHT * h, 1e-5, 10 * VELOCITY_WEIGHT * h,
  ];
  const covariance = new Float64Array(N * N);
  for (let i = 0; i < N; i++) covariance[i * N + i] = std[i]! ** 2;
  return { mean, covariance };
}

/** Moves the state `dt` steps ahead: mean += dt × velocity, covariance = F P Fᵀ + dt × Q. */
export function predictKalman(state: KalmanState, dt: number): void {
  const { mean: x, covariance: p } = state;
  const h = x[3]!;
  const pos = POSITION_WEIGHT * h;
  const vel = VELOCITY_WEIGHT * h;
  const q = [pos * pos, pos * pos, 1e-4, pos * pos, vel * vel, vel * vel, 1e-10, vel * vel];
  for (let i = 0; i < 4; i++) x[i]! += dt * x[4 + i]!;
  // F P: row i (< 4) gains dt × row i + 4.
  for (let i = 0; i < 4; i++) for (let j = 0; j < N; j++) p[i * N + j]! += dt * p[(i + 4) * N + j]!;
  // (F P) Fᵀ: column j (< 4) gains dt × column j + 4.
  for (let i = 0; i < N; i++) for (let j = 0; j < 4; j++) p[i * N + j]! += dt * p[i * N + j + 4]!;
  for (let i = 0; i < N; i++) p[i * N + i]! += dt * q[i]!;
}

const gain = new Float64Array(N * 4);
const innovationCovariance = new Float64Array(16);
const inverse = new Float64Array(16);

/** Corrects the state with a measurement (the standard Kalman update, measurement = the state's first four). */
export function updateKalman(state: KalmanState, z: Measurement): void {
  const { mean: x, covariance: p } = state;
  const h = x[3]!;
  const pos = POSITION_WEIGHT * h;
  const r = [pos * pos, pos * pos, 1e-2, pos * pos];
  // S = H P Hᵀ + R: the top-left 4 × 4 of P.
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) innovationCovariance[i * 4 + j] = p[i * N + j]! + (i === j ? r[i]! : 0);
  invert4(innovationCovariance, inverse);
  // K = P Hᵀ S⁻¹: P's first four columns times S⁻¹.
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < 4; j++) {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += p[i * N + k]! * inverse[k * 4 + j]!;
      gain[i * 4 + j] = sum;
    }
  }
  const innovation = [z[0] - x[0]!, z[1] - x[1]!, z[2] - x[2]!, z[3] - x[3]!];
  for (let i = 0; i < N; i++) {
    x[i]! += gain[i * 4]! * innovation[0]! + gain[i * 4 + 1]! * innovation[1]! + gain[i * 4 + 2]! * innovation[2]! + gain[i * 4 + 3]! * innovation[3]!;
  }
  // P −= K S Kᵀ = K (H P); H P is P's first four rows. Computed into a copy, then symmetrised against rounding.
  const hp = p.slice(0, 4 * N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      p[i * N + j]! -= gain[i * 4]! * hp[j]! + gain[i * 4 + 1]! * hp[N + j]! + gain[i * 4 + 2]! * hp[2 * N + j]! + gain[i * 4 + 3]! * hp[3 * N + j]!;
    }
  }
  for (let i = 0; i < N; i++) {
    for (let j = i + 1; j < N; j++) {
      const v = (p[i * N + j]! + p[j * N + i]!) / 2;
      p[i * N + j] = v;
      p[j * N + i] = v;
    }
  }
}

/** Inverts a 4 × 4 matrix (row by row) by Gauss-Jordan elimination with partial pivoting. */
export function invert4(m: ArrayLike<number>, out: Float64Array): Float64Array {
  const a = Float64Array.from(m);
  out.fill(0);
  for (let i = 0; i < 4; i++) out[i * 4 + i] = 1;
  for (let c = 0; c < 4; c++) {
    let pivot = c;
    for (let r = c + 1; r < 4; r++) if (Math.abs(a[r * 4 + c]!) > Math.abs(a[pivot * 4 + c]!)) pivot = r;
    const pv = a[pivot * 4 + c]!;
    if (pv === 0) throw new RangeError('singular matrix');
    if (pivot !== c) {
      for (let k = 0; k < 4; k++) {
        [a[c * 4 + k], a[pivot * 4 + k]] = [a[pivot * 4 + k]!, a[c * 4 + k]!];
        [out[c * 4 + k], out[pivot * 4 + k]] = [out[pivot * 4 + k]!, out[c * 4 + k]!];
      }
    }
    for (let k = 0; k < 4; k++) {
      a[c * 4 + k]! /= pv;
      out[c * 4 + k]! /= pv;
    }
    for (let r = 0; r < 4; r++) {
      if (r === c) continue;
      const f = a[r * 4 + c]!;
      if (f === 0) continue;
      for (let k = 0; k < 4; k++) {
        a[r * 4 + k]! -= f * a[c * 4 + k]!;
        out[r * 4 + k]! -= f * out[c * 4 + k]!;
      }
    }
  }
  return out;
}
