import { describe, expect, it } from 'vitest';
import { costTexts, measured } from './PrerollChoice';

describe('pre-roll cost texts', () => {
  it('says "not measured yet" for every figure the program has not measured', () => {
    const t = costTexts(null);
    expect(t.instant).toBe(
      'each pre-rolled camera’s cost is not measured yet; last take from pre-roll: not measured yet',
    );
    expect(t.economy).toBe('only the on-air camera is decoded; last take from the keyframe cache: not measured yet');
    expect(measured(undefined, 'ms')).toBe('not measured yet');
  });

  it('shows the measured CPU and both take-to-air times', () => {
    const t = costTexts({
      mode: 'economy',
      decoder_cpu_pct: 23.44,
      last_pre_rolled_take_ms: 31.7,
      last_cached_take_ms: 412.2,
    });
    expect(t.instant).toBe('each pre-rolled camera costs 23.4 % of a core here; last take from pre-roll: 32 ms');
    expect(t.economy).toBe('only the on-air camera is decoded; last take from the keyframe cache: 412 ms');
  });
});
