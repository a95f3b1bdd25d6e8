import { describe, expect, it } from 'vitest';
import { describeConsumers } from './SessionCard';

describe('describeConsumers', () => {
  it('names who reads the session, plural when more than one', () => {
    expect(describeConsumers({ program: 0, preview: 1, copy: 2, snapshot: 0, other: 0 })).toBe(
      '1 preview, 2 stream outputs',
    );
    expect(describeConsumers({ program: 1, preview: 0, copy: 0, snapshot: 0, other: 0 })).toBe('1 program');
    expect(describeConsumers({ program: 0, preview: 0, copy: 0, snapshot: 0, other: 0 })).toBe('nobody');
  });
});
