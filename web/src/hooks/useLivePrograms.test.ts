import { describe, expect, it } from 'vitest';
import { isProgram } from './useLivePrograms';

describe('isProgram', () => {
  it('tells a whole program (as a program_status event carries it) from a reference to one', () => {
    expect(isProgram({ id: 1, name: 'Main', width: 1280, height: 720, live: null })).toBe(true);
    expect(isProgram({ id: 1 })).toBe(false);
    expect(isProgram({ id: '1', width: 1280, live: null })).toBe(false);
    expect(isProgram(undefined)).toBe(false);
  });
});
