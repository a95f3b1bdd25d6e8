// Pure helpers for destinations, streams and PTZ: labels, colors, units and words for errors.

import { ApiError, type OutputState, type Platform, type PtzVelocity, type Stream, type StreamState } from '../api';
import { sentence } from './errors';

export interface PlatformInfo {
  value: Platform;
  label: string;
  /** the ingest server used when only a key is given (as the appliance does) */
  defaultUrl: string | null;
  /** where the user finds the stream key */
  keyHelp: string;
  badge: string;
}

export const PLATFORMS: PlatformInfo[] = [
  {
    value: 'youtube',
    label: 'YouTube',
    defaultUrl: 'rtmps://a.rtmps.youtube.com:443/live2',
    keyHelp: 'YouTube Studio → Go live → Stream → Stream key.',
    badge: 'bg-red-50 text-red-700 ring-red-600/20',
  },
  {
    value: 'facebook',
    label: 'Facebook',
    defaultUrl: 'rtmps://live-api-s.facebook.com:443/rtmp',
    keyHelp: 'Facebook Live Producer → Streaming software → Stream key.',
    badge: 'bg-blue-50 text-blue-700 ring-blue-600/20',
  },
  {
    value: 'twitch',
    label: 'Twitch',
    defaultUrl: 'rtmp://live.twitch.tv/app',
    keyHelp: 'Twitch Creator Dashboard → Settings → Stream → Primary stream key.',
    badge: 'bg-violet-50 text-violet-700 ring-violet-600/20',
  },
  {
    value: 'custom',
    label: 'Custom',
    defaultUrl: null,
    keyHelp: 'Optional. Appended to the URL as its last path part (RTMP) or as streamid (SRT).',
    badge: 'bg-slate-100 text-slate-700 ring-slate-500/20',
  },
];

export function platformInfo(p: string): PlatformInfo {
  return PLATFORMS.find((x) => x.value === p) ?? PLATFORMS[PLATFORMS.length - 1];
}

/**
 * Server field messages often lack their subject ("is required: …", "must not contain …");
 * next to a field they read better with it: "Stream key is required: …".
 */
export function withSubject(label: string, message: string | undefined): string | undefined {
  if (!message) return message;
  const m = message.trim();
  if (/^(is|are|has|have|must|should|cannot|can't|may|needs?|contains?)\b/i.test(m)) {
    return `${label} ${m[0].toLowerCase()}${m.slice(1)}`;
  }
  return sentence(m);
}

/** 2500 → "2.5 Mbit/s", 800 → "800 kbit/s". */
export function formatBitrate(kbps: number | null | undefined): string {
  if (kbps === null || kbps === undefined || !Number.isFinite(kbps) || kbps < 0) return '—';
  if (kbps >= 1000) return `${(kbps / 1000).toFixed(kbps >= 10_000 ? 0 : 1).replace(/\.0$/, '')} Mbit/s`;
  return `${Math.round(kbps)} kbit/s`;
}

export function formatFps(fps: number | null | undefined): string {
  if (fps === null || fps === undefined || !Number.isFinite(fps)) return '—';
  return `${Number(fps.toFixed(1))} fps`;
}

interface StateStyle {
  label: string;
  cls: string;
  dot: string;
  pulse?: boolean;
}

const GREEN = { cls: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20', dot: 'bg-emerald-500' };
const AMBER = { cls: 'bg-amber-50 text-amber-800 ring-amber-600/20', dot: 'bg-amber-500' };
const SKY = { cls: 'bg-sky-50 text-sky-700 ring-sky-600/20', dot: 'bg-sky-500' };
const RED = { cls: 'bg-red-50 text-red-700 ring-red-600/20', dot: 'bg-red-500' };
const GREY = { cls: 'bg-slate-100 text-slate-600 ring-slate-500/20', dot: 'bg-slate-400' };

const STREAM_STATES: Record<StreamState, StateStyle> = {
  running: { label: 'Running', ...GREEN, pulse: true },
  degraded: { label: 'Degraded', ...AMBER },
  reconnecting: { label: 'Reconnecting', ...RED, pulse: true },
  starting: { label: 'Starting', ...SKY, pulse: true },
  stopped: { label: 'Stopped', ...GREY },
};

const OUTPUT_STATES: Record<OutputState, StateStyle> = {
  running: { label: 'Live', ...GREEN },
  starting: { label: 'Connecting', ...SKY },
  idle: { label: 'Waiting', ...GREY },
  backoff: { label: 'Retrying', ...AMBER },
  failed: { label: 'Failed', ...RED },
  stopped: { label: 'Stopped', ...GREY },
};

export function streamStateStyle(state: string): StateStyle {
  return STREAM_STATES[state] ?? { label: sentence(state || 'unknown'), ...GREY };
}

export function outputStateStyle(state: string): StateStyle {
  return OUTPUT_STATES[state] ?? { label: sentence(state || 'unknown'), ...GREY };
}

export function audioLabel(audio: string | null | undefined): string {
  switch (audio) {
    case 'camera':
      return 'Camera audio (AAC)';
    case 'transcoded':
      return 'Camera audio, transcoded to AAC';
    case 'silence':
      return 'Silent track (camera has no audio)';
    default:
      return '—';
  }
}

export type Direction =
  'up-left' | 'up' | 'up-right' | 'left' | 'right' | 'down-left' | 'down' | 'down-right' | 'zoom-in' | 'zoom-out';

const VECTORS: Record<Direction, [number, number, number]> = {
  'up-left': [-1, 1, 0],
  up: [0, 1, 0],
  'up-right': [1, 1, 0],
  left: [-1, 0, 0],
  right: [1, 0, 0],
  'down-left': [-1, -1, 0],
  down: [0, -1, 0],
  'down-right': [1, -1, 0],
  'zoom-in': [0, 0, 1],
  'zoom-out': [0, 0, -1],
};

/** The velocities for a pad button at a speed of 0.1…1 (clamped). */
export function velocityFor(direction: Direction, speed: number, timeoutMs = 1500): PtzVelocity {
  const s = Math.min(1, Math.max(0.1, Number.isFinite(speed) ? speed : 0.5));
  const [p, t, z] = VECTORS[direction];
  const r = (v: number) => Math.round(v * s * 100) / 100 || 0;
  return { pan: r(p), tilt: r(t), zoom: r(z), timeout_ms: timeoutMs };
}

/** Words for a failed PTZ request (409 not PTZ, 502 camera error, 504 timeout, …). */
export function describePtzError(err: unknown): string {
  if (err instanceof ApiError) {
    const msg = sentence(err.message);
    if (err.status === 504 && !/answer|time/i.test(msg)) return `The camera did not answer in time (${msg}).`;
    if (err.code === 'not_available' || err.code === 'http_404' || err.status === 405 || err.status === 501)
      return 'PTZ control is not available on this appliance.';
    return msg;
  }
  if (err instanceof Error && err.message) return err.message;
  return 'The camera could not be moved.';
}

/** A whole Stream (as the `stream_status` event carries it), not just a reference to one. */
export function isStream(data: unknown): data is Stream {
  return (
    typeof data === 'object' &&
    data !== null &&
    typeof (data as Stream).id === 'number' &&
    typeof (data as Stream).status === 'object' &&
    Array.isArray((data as Stream).destination_ids)
  );
}
