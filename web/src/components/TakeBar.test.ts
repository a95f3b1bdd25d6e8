import { describe, expect, it } from 'vitest';
import { flightText, type Flight } from './TakeBar';

const flight = (over: Partial<Flight>): Flight => ({
  cameraId: 1,
  name: 'Pier',
  since: 0,
  phase: 'sending',
  withPreset: false,
  ...over,
});

describe('the progress of a take', () => {
  it('says what the take waits for', () => {
    expect(flightText(flight({}), false)).toBe('Taking Pier…');
    expect(flightText(flight({ withPreset: true }), false)).toBe('Moving Pier to its preset…');
    expect(flightText(flight({ phase: 'waiting' }), false)).toBe('Waiting for the first picture of Pier…');
    expect(flightText(flight({ phase: 'waiting' }), true)).toBe('Moving Pier to its preset…');
  });
});
