import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initiateKalman, invert4, predictKalman, updateKalman, type KalmanState, type Measurement } from '../../../src/vision/tracking/kalman.js';

const variance = (s: KalmanState, i: number) => s.covariance[i * 8 + i]!;
const copy = (s: KalmanState): KalmanState => ({ mean: s.mean.slice(), covariance: s.covariance.slice() });

describe('Kalman filter on (cx, cy, aspect, height)', () => {
  test('a new state sits on its measurement, still, with a diagonal covariance that grows with the box', () => {
    const small = initiateKalman([100, 50, 0.5, 40]);
    const large = initiateKalman([100, 50, 0.5, 400]);
    assert.deepEqual([...small.mean], [100, 50, 0.5, 40, 0, 0, 0, 0]);
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) if (i !== j) assert.equal(small.covariance[i * 8 + j], 0);
      assert.ok(variance(small, i) > 0);
    }
    assert.ok(variance(large, 0) > variance(small, 0));
  });

  test('predict moves by the velocity times dt and grows the uncertainty; update pulls towards the measurement and shrinks it', () => {
    const s = initiateKalman([100, 50, 0.5, 40]);
    s.mean[4] = 3; // 3 px a step to the right
    const before = variance(s, 0);
    predictKalman(s, 2);
    assert.equal(s.mean[0], 106);
    assert.ok(variance(s, 0) > before, 'prediction adds uncertainty');
    const predicted = variance(s, 0);
    updateKalman(s, [110, 50, 0.5, 40]);
    assert.ok(s.mean[0]! > 106 && s.mean[0]! < 110, `between prediction and measurement: ${s.mean[0]}`);
    assert.ok(variance(s, 0) < predicted, 'a measurement removes uncertainty');
  });

  test('a measurement on the prediction leaves the mean where it is', () => {
    const s = initiateKalman([10, 20, 1, 30]);
    predictKalman(s, 1);
    const mean = [...s.mean];
    updateKalman(s, mean.slice(0, 4) as unknown as Measurement);
    for (let i = 0; i < 8; i++) assert.ok(Math.abs(s.mean[i]! - mean[i]!) < 1e-12, `mean[${i}]`);
  });

  test('a box moving steadily: the velocity is learnt and the prediction leads the box', () => {
    const s = initiateKalman([0, 100, 0.5, 80]);
    for (let step = 1; step <= 30; step++) {
      predictKalman(s, 1);
      updateKalman(s, [5 * step, 100 - step, 0.5, 80]);
    }
    assert.ok(Math.abs(s.mean[4]! - 5) < 0.1, `vx ${s.mean[4]}`);
    assert.ok(Math.abs(s.mean[5]! + 1) < 0.1, `vy ${s.mean[5]}`);
    predictKalman(s, 1);
    assert.ok(Math.abs(s.mean[0]! - 155) < 1, `predicted cx ${s.mean[0]}`);
  });

  test('the covariance stays symmetric and positive on its diagonal through many steps', () => {
    const s = initiateKalman([300, 200, 0.7, 120]);
    for (let step = 1; step <= 200; step++) {
      predictKalman(s, step % 3 === 0 ? 2 : 1);
      if (step % 5 !== 0) updateKalman(s, [300 + step, 200 + Math.sin(step) * 4, 0.7, 120 + (step % 7)]);
    }
    for (let i = 0; i < 8; i++) {
      assert.ok(variance(s, i) > 0, `variance ${i}`);
      for (let j = 0; j < 8; j++) assert.equal(s.covariance[i * 8 + j], s.covariance[j * 8 + i]);
    }
  });

  test('dt 2 predicts the mean of two steps of 1', () => {
    const a = initiateKalman([0, 0, 1, 50]);
    a.mean.set([4, -2, 0.01, 1], 4);
    const b = copy(a);
    predictKalman(a, 2);
    predictKalman(b, 1);
    predictKalman(b, 1);
    for (let i = 0; i < 8; i++) assert.ok(Math.abs(a.mean[i]! - b.mean[i]!) < 1e-9, `mean[${i}]`);
  });

  test('invert4: M × M⁻¹ = I, pivoting past a zero on the diagonal; a singular matrix throws', () => {
    const m = [0, 2, 1, 0, 1, 0, 0, 3, 4, 1, 5, 0, 0, 0, 2, 1];
    const inv = invert4(m, new Float64Array(16));
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        let sum = 0;
        for (let k = 0; k < 4; k++) sum += m[i * 4 + k]! * inv[k * 4 + j]!;
        assert.ok(Math.abs(sum - (i === j ? 1 : 0)) < 1e-12, `(${i}, ${j}) = ${sum}`);
      }
    }
    assert.throws(() => invert4([1, 2, 3, 4, 2, 4, 6, 8, 0, 0, 1, 0, 0, 0, 0, 1], new Float64Array(16)), /singular/);
  });
});
