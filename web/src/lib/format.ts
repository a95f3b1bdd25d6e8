// Pure formatting helpers for numbers, sizes and times shown in the UI.

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** 1536 → "1.5 KB" (binary multiples, as `free`/`df -h` show them). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits).replace(/\.0$/, '')} ${UNITS[unit]}`;
}

/** 93784 → "1d 2h 3m"; under a minute → "45s". */
export function formatUptime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** Percentage with one decimal below 10 %, none above. */
export function formatPercent(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const v = Math.max(0, value);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}%`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago" relative to `now`. */
export function formatRelative(ts: string | null | undefined, now: number = Date.now()): string {
  if (!ts) return 'never';
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return 'unknown';
  const diff = Math.round((now - t) / 1000);
  if (diff < 0) return 'just now';
  if (diff < 10) return 'just now';
  if (diff < 60) return `${diff} s ago`;
  const min = Math.floor(diff / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.floor(h / 24);
  return d === 1 ? '1 day ago' : `${d} days ago`;
}

/** Absolute local date and time for tooltips and tables. */
export function formatDateTime(ts: string | null | undefined): string {
  if (!ts) return '—';
  const t = new Date(ts);
  if (Number.isNaN(t.getTime())) return '—';
  return t.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** "h264 · 1280×720 · 30 fps · audio" from whatever the probe knew. */
export function formatStreamInfo(info: {
  codec?: string | null;
  width?: number | null;
  height?: number | null;
  fps?: number | null;
  has_audio?: boolean | null;
}): string {
  const parts: string[] = [];
  if (info.codec) parts.push(info.codec.toUpperCase());
  if (info.width && info.height) parts.push(`${info.width}×${info.height}`);
  if (info.fps) parts.push(`${Number.isInteger(info.fps) ? info.fps : info.fps.toFixed(2)} fps`);
  if (info.has_audio === true) parts.push('audio');
  if (info.has_audio === false) parts.push('no audio');
  return parts.join(' · ');
}

/** Removes `user:pass@` from a URL before it is shown (the API should already do it). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1');
}

/** Guesses the protocol from an address' scheme: "rtsps://…" → "RTSPS". */
export function protocolFromAddress(address: string): string | null {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(address.trim());
  if (!m) return null;
  const scheme = m[1].toUpperCase();
  return ['RTSP', 'RTSPS', 'RTMP', 'RTMPS', 'SRT'].includes(scheme) ? scheme : null;
}
