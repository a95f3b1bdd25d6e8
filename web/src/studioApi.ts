// API of programs, overlays, assets and timelines (docs/api.md "Timelines, overlays, VistterStudio"
// and crates/server/src/web/programs.rs), on top of the shared fetch wrapper in api.ts.

import { errorFromResponse, ApiError, request, type Camera } from './api';

const id = (v: number | string) => encodeURIComponent(String(v));

// ---- programs ----

export interface ProgramOverlay {
  overlay_id: number;
  visible: boolean;
  placement?: { x: number; y: number; width: number; height: number; opacity: number };
}

export interface ProgramOutputLive {
  destination_id: number;
  destination: string;
  state: string;
  restarts: number;
  last_error: string | null;
  dropped_bytes: number;
}

export interface ProgramIngestLive {
  camera_id: number;
  camera: string;
  state: string;
  frames: number;
  last_error: string | null;
}

export interface ProgramLive {
  on_air_camera_id: number | null;
  pending_camera_id: number | null;
  slate_active: boolean;
  held: boolean;
  encoder: string;
  encoder_state: string;
  speed: number | null;
  bitrate_kbps: number | null;
  fps_measured: number;
  frames: number;
  duplicated_frames: number;
  dropped_frames: number;
  slate_frames: number;
  uptime_s: number;
  take_latency_ms: number | null;
  switch_gap_frames: number | null;
  outputs: ProgramOutputLive[];
  ingests: ProgramIngestLive[];
}

export interface Program {
  id: number;
  name: string;
  width: number;
  height: number;
  fps: number;
  video_bitrate_kbps: number;
  encoder: string;
  slate_text: string;
  destination_ids: number[];
  overlays: ProgramOverlay[];
  desired_state: 'running' | 'stopped' | string;
  on_air_camera_id: number | null;
  live: ProgramLive | null;
  created_at: string;
  updated_at: string;
}

export interface ProgramInput {
  name: string;
  width: number;
  height: number;
  fps: number;
  video_bitrate_kbps?: number | null;
  encoder?: string | null;
  slate_text?: string | null;
  destination_ids: (number | string)[];
}

export interface EncoderProbe {
  selected: string | null;
  results: { encoder: string; ok: boolean; error: string | null; elapsed_ms: number }[];
}

// ---- overlays and assets ----

export type OverlayKind = 'image' | 'text' | 'clock' | 'url_image' | 'url_text';
export const OVERLAY_KINDS: { value: OverlayKind; label: string }[] = [
  { value: 'image', label: 'Image' },
  { value: 'text', label: 'Text' },
  { value: 'clock', label: 'Clock' },
  { value: 'url_image', label: 'Image from URL' },
  { value: 'url_text', label: 'Text from URL' },
];

export interface OverlayDefinition {
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  opacity?: number;
  text?: string;
  font_size?: number;
  color?: string;
  background?: string;
  clock_format?: string;
  timezone?: string;
  url?: string;
  refresh_s?: number;
  json_pointer?: string;
  [key: string]: unknown;
}

export interface Overlay {
  id: number;
  name: string;
  kind: OverlayKind;
  asset_id: number | null;
  definition: OverlayDefinition;
  studio_keys: string[];
  created_at: string;
  updated_at: string;
}

export interface OverlayInput {
  name: string;
  kind: OverlayKind;
  asset_id?: number | null;
  definition: OverlayDefinition;
}

export interface Asset {
  id: number;
  name: string;
  kind: string;
  mime: string;
  sha256: string;
  size: number;
  created_at: string;
  url: string;
}

// ---- timelines ----

export type ClipSource =
  | { type: 'camera'; camera_id: number; preset_id?: number | null }
  | { type: 'overlay'; overlay_id: number; x: number; y: number; width: number; height: number; opacity?: number }
  | { type: 'passthrough' };

export interface Clip {
  id: string;
  start_ms: number;
  end_ms: number;
  source: ClipSource;
  [key: string]: unknown;
}

export interface Track {
  id?: string;
  kind: 'video' | 'overlay' | 'audio' | 'ad';
  name: string;
  clips: Clip[];
  [key: string]: unknown;
}

export interface Issue {
  path: string;
  message: string;
}

export interface Timeline {
  id: string;
  name: string;
  duration_ms: number;
  playback: 'loop' | 'once';
  destination_ids: number[];
  tracks: Track[];
  schedule?: unknown;
  created_at?: string;
  updated_at?: string;
  warnings?: Issue[];
  [key: string]: unknown;
}

export interface ImportResult {
  timeline: Timeline;
  format: 'flat' | 'declared';
  created_cameras: Camera[];
  credentials_moved: string[];
  warnings: Issue[];
}

export interface PlayerStatus {
  state: 'stopped' | 'playing' | 'finished';
  timeline_id: string | null;
  timeline_name: string | null;
  position_ms: number;
  duration_ms: number;
  loop_index: number;
  on_air_clip: string | null;
  started_at: string | null;
  program_available: boolean;
}

async function rawPost<T>(path: string, body: Blob | string, contentType: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': contentType },
      body,
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the appliance. Check the connection and try again.');
  }
  if (!res.ok) throw await errorFromResponse(res);
  return (await res.json()) as T;
}

export const studio = {
  // programs
  listPrograms: () => request<Program[]>('GET', '/api/programs'),
  getProgram: (p: number | string) => request<Program>('GET', `/api/programs/${id(p)}`),
  createProgram: (input: ProgramInput) => request<Program>('POST', '/api/programs', input),
  updateProgram: (p: number | string, input: ProgramInput) => request<Program>('PUT', `/api/programs/${id(p)}`, input),
  deleteProgram: (p: number | string) => request<void>('DELETE', `/api/programs/${id(p)}`),
  startProgram: (p: number | string) => request<Program>('POST', `/api/programs/${id(p)}/start`),
  stopProgram: (p: number | string) => request<Program>('POST', `/api/programs/${id(p)}/stop`),
  take: (p: number | string, camera_id: number | string, preset_id?: number | string | null) =>
    request<Program>('POST', `/api/programs/${id(p)}/take`, {
      camera_id: Number(camera_id),
      ...(preset_id != null && preset_id !== '' ? { preset_id: Number(preset_id) } : {}),
    }),
  slate: (p: number | string) => request<Program>('POST', `/api/programs/${id(p)}/slate`),
  preroll: (p: number | string, camera_id: number | string) =>
    request<void>('POST', `/api/programs/${id(p)}/preroll`, { camera_id: Number(camera_id) }),
  setProgramOverlays: (p: number | string, list: ProgramOverlay[]) =>
    request<Program>('PUT', `/api/programs/${id(p)}/overlays`, list),
  encoders: () => request<EncoderProbe>('GET', '/api/system/encoders'),

  // overlays and assets
  listOverlays: () => request<Overlay[]>('GET', '/api/overlays'),
  createOverlay: (input: OverlayInput) => request<Overlay>('POST', '/api/overlays', input),
  updateOverlay: (o: number | string, input: OverlayInput) => request<Overlay>('PUT', `/api/overlays/${id(o)}`, input),
  deleteOverlay: (o: number | string) => request<void>('DELETE', `/api/overlays/${id(o)}`),
  listAssets: () => request<Asset[]>('GET', '/api/assets'),
  uploadAsset: (file: File) =>
    rawPost<Asset>(`/api/assets?name=${encodeURIComponent(file.name)}`, file, file.type || 'image/png'),

  // timelines
  listTimelines: () => request<Timeline[]>('GET', '/api/timelines'),
  getTimeline: (t: string) => request<Timeline>('GET', `/api/timelines/${id(t)}`),
  createTimeline: (t: Timeline) => request<Timeline>('POST', '/api/timelines', t),
  updateTimeline: (t: Timeline) => request<Timeline>('PUT', `/api/timelines/${id(t.id)}`, t),
  deleteTimeline: (t: string) => request<void>('DELETE', `/api/timelines/${id(t)}`),
  validateTimeline: (t: Timeline) =>
    request<{ errors: Issue[]; warnings: Issue[] }>('POST', '/api/timelines/validate', t),
  importTimeline: (text: string) => rawPost<ImportResult>('/api/timelines/import', text, 'application/json'),
  startTimeline: (t: string) => request<PlayerStatus>('POST', `/api/timelines/${id(t)}/start`),
  stopTimeline: (t: string) => request<PlayerStatus>('POST', `/api/timelines/${id(t)}/stop`),
  jump: (t: string, clip_id: string) => request<PlayerStatus>('POST', `/api/timelines/${id(t)}/jump`, { clip_id }),
  playerStatus: () => request<PlayerStatus>('GET', '/api/stream/status'),
};

export function snapshotUrlSized(cameraId: number | string, width: number, t: number = Date.now()): string {
  return `/api/cameras/${id(cameraId)}/snapshot?width=${width}&t=${t}`;
}
