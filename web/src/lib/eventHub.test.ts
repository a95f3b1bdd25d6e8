import { describe, expect, it, vi } from 'vitest';
import { CLOSED, EventHub, nextBackoff, parseEventData, type Source } from './eventHub';

class FakeSource implements Source {
  readyState = 0;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  closed = false;
  handlers = new Map<string, ((ev: MessageEvent) => void)[]>();
  addEventListener(name: string, fn: (ev: MessageEvent) => void) {
    this.handlers.set(name, [...(this.handlers.get(name) ?? []), fn]);
  }
  close() {
    this.closed = true;
    this.readyState = CLOSED;
  }
  emit(name: string, data: string) {
    for (const fn of this.handlers.get(name) ?? []) fn({ data } as MessageEvent);
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  fail() {
    this.readyState = CLOSED;
    this.onerror?.(new Event('error'));
  }
}

function setup() {
  const sources: FakeSource[] = [];
  const timers: (() => void)[] = [];
  const hub = new EventHub(
    () => {
      const s = new FakeSource();
      sources.push(s);
      return s;
    },
    (fn) => {
      timers.push(fn);
      return 0;
    },
  );
  return { hub, sources, timers };
}

describe('EventHub', () => {
  it('shares one connection between listeners and routes each event to those that want it', () => {
    const { hub, sources } = setup();
    const a = vi.fn();
    const b = vi.fn();
    hub.subscribe({ names: ['camera_health'], onEvent: a });
    hub.subscribe({ names: ['camera_health', 'status'], onEvent: b });
    expect(sources).toHaveLength(1);
    sources[0].emit('camera_health', '{"camera_id":3}');
    sources[0].emit('status', 'not json');
    expect(a).toHaveBeenCalledTimes(1);
    expect(a).toHaveBeenCalledWith('camera_health', { camera_id: 3 });
    expect(b).toHaveBeenCalledWith('status', 'not json');
    expect(sources[0].handlers.get('camera_health')).toHaveLength(1);
  });

  it('closes with the last listener and opens again with the next', () => {
    const { hub, sources } = setup();
    const off1 = hub.subscribe({ names: ['x'], onEvent: () => undefined });
    const off2 = hub.subscribe({ names: ['x'], onEvent: () => undefined });
    off1();
    expect(sources[0].closed).toBe(false);
    off2();
    expect(sources[0].closed).toBe(true);
    hub.subscribe({ names: ['x'], onEvent: () => undefined });
    expect(sources).toHaveLength(2);
  });

  it('reports its state, reconnects with backoff after an HTTP error, and asks for a resync after a reconnect', () => {
    const { hub, sources, timers } = setup();
    const states: string[] = [];
    const onResync = vi.fn();
    hub.subscribe({ names: ['x'], onEvent: () => undefined, onState: (s) => states.push(s), onResync });
    sources[0].open();
    expect(onResync).not.toHaveBeenCalled();
    sources[0].fail();
    expect(states).toEqual(['connecting', 'live', 'reconnecting']);
    expect(timers).toHaveLength(1);
    timers[0]();
    expect(sources).toHaveLength(2);
    sources[1].open();
    expect(onResync).toHaveBeenCalledTimes(1);
    // The new connection carries the listener's events too.
    expect(sources[1].handlers.has('x')).toBe(true);
  });

  it('asks for a resync when the server says this client lagged', () => {
    const { hub, sources } = setup();
    const onResync = vi.fn();
    hub.subscribe({ names: [], onEvent: () => undefined, onResync });
    sources[0].emit('lagged', '12');
    expect(onResync).toHaveBeenCalledTimes(1);
  });
});

describe('nextBackoff', () => {
  it('doubles from 1 s up to 30 s', () => {
    expect(nextBackoff(0)).toBe(1000);
    expect(nextBackoff(1000)).toBe(2000);
    expect(nextBackoff(20_000)).toBe(30_000);
  });
});

describe('parseEventData', () => {
  it('parses JSON and keeps other text', () => {
    expect(parseEventData('{"a":1}')).toEqual({ a: 1 });
    expect(parseEventData('12')).toBe(12);
    expect(parseEventData('hello')).toBe('hello');
  });
});
