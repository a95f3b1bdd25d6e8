// One connection to the appliance's event stream (SSE) shared by every component of a page
// that listens: browsers allow only six HTTP/1.1 connections per host, and the live players
// need theirs. It opens with the first listener, closes with the last, and reconnects with
// backoff (EventSource gives up by itself after an HTTP error).

export type LiveState = 'connecting' | 'live' | 'reconnecting';

export interface Listener {
  /** Event names wanted; each is parsed as JSON when it is JSON. */
  names: readonly string[];
  onEvent: (name: string, data: unknown) => void;
  onState?: (state: LiveState) => void;
  /** Events may have been missed (a reconnect after the first connect, or `lagged`). */
  onResync?: () => void;
}

/** The part of EventSource the hub uses (tests pass a fake). */
export interface Source {
  readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(name: string, fn: (ev: MessageEvent) => void): void;
  close(): void;
}

export const CLOSED = 2;

export function nextBackoff(previousMs: number): number {
  return Math.min(30_000, Math.max(1_000, previousMs * 2));
}

/** An event's data: JSON when it is JSON, else the raw text. */
export function parseEventData(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export class EventHub {
  private listeners = new Set<Listener>();
  private source: Source | null = null;
  private wired = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private delay = 0;
  private opened = false;
  state: LiveState = 'connecting';

  constructor(
    private readonly open: () => Source,
    private readonly schedule: (fn: () => void, ms: number) => ReturnType<typeof setTimeout> = setTimeout,
  ) {}

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    if (this.listeners.size === 1 && !this.source) this.connect();
    else for (const n of l.names) this.wire(n);
    l.onState?.(this.state);
    return () => {
      this.listeners.delete(l);
      if (this.listeners.size === 0) this.shutdown();
    };
  }

  private setState(s: LiveState) {
    this.state = s;
    for (const l of this.listeners) l.onState?.(s);
  }

  private resync() {
    for (const l of this.listeners) l.onResync?.();
  }

  private wire(name: string) {
    if (!this.source || this.wired.has(name)) return;
    this.wired.add(name);
    this.source.addEventListener(name, (ev) => {
      const data = parseEventData(ev.data);
      for (const l of this.listeners) if (l.names.includes(name)) l.onEvent(name, data);
    });
  }

  private connect() {
    const source = this.open();
    this.source = source;
    this.wired = new Set();
    source.onopen = () => {
      this.delay = 0;
      this.setState('live');
      if (this.opened) this.resync();
      this.opened = true;
    };
    source.onerror = () => {
      this.setState('reconnecting');
      if (source.readyState === CLOSED && this.source === source) {
        source.close();
        this.source = null;
        this.delay = nextBackoff(this.delay);
        this.timer = this.schedule(() => {
          this.timer = undefined;
          if (this.listeners.size > 0) this.connect();
        }, this.delay);
      }
    };
    source.addEventListener('lagged', () => this.resync());
    for (const l of this.listeners) for (const n of l.names) this.wire(n);
  }

  private shutdown() {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.source?.close();
    this.source = null;
    this.opened = false;
    this.delay = 0;
    this.state = 'connecting';
  }
}

const hubs = new Map<string, EventHub>();

/** The page-wide hub for `url`. */
export function hubFor(url: string): EventHub {
  let hub = hubs.get(url);
  if (!hub) {
    hub = new EventHub(() => new EventSource(url, { withCredentials: true }));
    hubs.set(url, hub);
  }
  return hub;
}
