import { describe, expect, it } from 'vitest';
import { centreStep, padVelocity, speedCurve } from './ptz';

describe('speedCurve', () => {
  it('is fine at low speeds and full at the top', () => {
    expect(speedCurve(100)).toBe(1);
    // 10 %: a few degrees per second on a head that turns 180 °/s at full speed.
    const deg = speedCurve(10) * 180;
    expect(deg).toBeGreaterThan(1.5);
    expect(deg).toBeLessThan(5);
    expect(speedCurve(50)).toBeGreaterThan(0.2);
    expect(speedCurve(50)).toBeLessThan(0.4);
  });
  it('grows with the slider and stays in range', () => {
    let last = 0;
    for (let p = 1; p <= 100; p += 1) {
      expect(speedCurve(p)).toBeGreaterThan(last);
      last = speedCurve(p);
    }
    expect(speedCurve(0)).toBe(speedCurve(1));
    expect(speedCurve(500)).toBe(1);
    expect(speedCurve(Number.NaN)).toBe(speedCurve(50));
  });
});

describe('padVelocity', () => {
  it('points the curve in the direction of the button', () => {
    expect(padVelocity('down-left', 100)).toEqual({ pan: -1, tilt: -1, zoom: 0, timeout_ms: 1500 });
    const v = padVelocity('right', 10, 1000);
    expect(v.pan).toBe(speedCurve(10));
    expect(v.tilt).toBe(0);
    expect(v.timeout_ms).toBe(1000);
    expect(Object.is(padVelocity('up', 10).pan, -0)).toBe(false);
  });
});

describe('centreStep', () => {
  it('turns towards the point clicked, half a field of view at the edge', () => {
    expect(centreStep(0, 0, 0)).toEqual({ pan: 0, tilt: 0 });
    expect(centreStep(1, 0, 0)).toEqual({ pan: 30, tilt: 0 });
    // Below the centre is a tilt down.
    expect(centreStep(0, 1, 0).tilt).toBeLessThan(0);
    expect(centreStep(-0.5, -0.5, 0).pan).toBe(-15);
  });
  it('turns less when zoomed in', () => {
    expect(Math.abs(centreStep(1, 0, 100).pan)).toBeLessThan(Math.abs(centreStep(1, 0, 0).pan) / 5);
  });
});
