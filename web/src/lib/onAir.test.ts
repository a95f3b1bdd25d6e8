import { describe, expect, it } from 'vitest';
import type { Destination, Program } from '../api';
import { describeOnAir, listWords, timelineProgram } from './onAir';

const dest = (id: number, name: string) => ({ id, name }) as Destination;
const program = (id: number, live: boolean, extra: Partial<Program> = {}) =>
  ({
    id,
    name: `P${id}`,
    destination_ids: [1, 2],
    live: live ? { on_air_camera_id: 7, slate_active: false } : null,
    ...extra,
  }) as unknown as Program;

describe('on air in words', () => {
  it('lists names as a sentence', () => {
    expect(listWords([])).toBe('');
    expect(listWords(['A'])).toBe('A');
    expect(listWords(['A', 'B', 'C'])).toBe('A, B and C');
  });
  it('picks the program timelines play through', () => {
    expect(timelineProgram([program(3, false), program(2, false)])?.id).toBe(2);
    expect(timelineProgram([program(1, false), program(4, true), program(3, true)])?.id).toBe(3);
    expect(timelineProgram([])).toBeNull();
  });
  it('names the destinations, the camera and the timeline', () => {
    const lines = describeOnAir({
      programs: [program(1, true), program(2, false)],
      streams: [],
      destinations: [dest(1, 'YouTube'), dest(2, 'Twitch')],
      cameras: [{ id: 7, name: 'Pier' } as never],
      player: { state: 'playing', timeline_id: 't', timeline_name: 'Morning' } as never,
    });
    expect(lines.map((l) => l.text)).toEqual([
      'Program “P1” is on air to YouTube and Twitch, showing camera Pier. Timeline “Morning” drives it.',
    ]);
  });
  it('says nothing when nothing runs', () => {
    expect(
      describeOnAir({ programs: [program(1, false)], streams: [], destinations: [], cameras: [], player: null }),
    ).toEqual([]);
  });
});
