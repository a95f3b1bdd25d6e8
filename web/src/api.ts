// A tiny fetch wrapper for the appliance's JSON API (docs/api.md).
// Every failure becomes an ApiError carrying the server's {error, message, field}.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly retryAfter?: number;

  constructor(status: number, code: string, message: string, field?: string, retryAfter?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }

  /** The endpoint does not exist (yet) on this appliance, or answered with something else than JSON. */
  get notAvailable(): boolean {
    return this.status === 404 || this.status === 405 || this.status === 501 || this.code === 'not_available';
  }
}

// ---- types (shapes from docs/api.md) ----

export interface User {
  id: number | string;
  username: string;
}

export interface AuthState {
  setup_required: boolean;
  user: User | null;
}

export type CameraType = 'STATIC' | 'PTZ';
export type Protocol = 'RTSP' | 'RTSPS' | 'RTMP' | 'RTMPS' | 'SRT';
export const PROTOCOLS: Protocol[] = ['RTSP', 'RTSPS', 'RTMP', 'RTMPS', 'SRT'];

export interface Camera {
  id: number | string;
  name: string;
  type: CameraType;
  protocol: Protocol;
  address: string;
  username: string | null;
  has_password: boolean;
  onvif_host: string | null;
  onvif_port: number | null;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

export interface CameraInput {
  name: string;
  type: CameraType;
  protocol: Protocol;
  address: string;
  username?: string | null;
  /** absent/null keeps the stored password, "" clears it */
  password?: string | null;
  onvif_host?: string | null;
  onvif_port?: number | null;
  enabled?: boolean;
}

export interface Preset {
  id: number | string;
  camera_id: number | string;
  name: string;
  pan: number;
  tilt: number;
  zoom: number;
  onvif_token: string | null;
  settle_ms: number | null;
  created_at: string;
  updated_at: string;
}

export interface PresetInput {
  name: string;
  pan: number;
  tilt: number;
  zoom: number;
  settle_ms?: number | null;
}

export type HealthState = 'unknown' | 'online' | 'offline' | 'degraded' | 'disabled';

export interface CameraHealth {
  camera_id: number | string;
  state: HealthState;
  last_seen: string | null;
  last_check: string | null;
  last_error: string | null;
  error_kind: string | null;
  codec: string | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  has_audio: boolean | null;
}

export interface SystemStatus {
  version: string;
  ffmpeg_version: string | null;
  uptime_s: number;
  cpu_percent: number;
  memory: { total_bytes: number; used_bytes: number; process_rss_bytes: number };
  disk: { path: string; total_bytes: number; free_bytes: number };
  temperature_c: number | null;
  load_average: number[];
  cameras: { total: number; online: number; offline: number; degraded: number; unknown: number };
}

export interface TestResult {
  reachable: boolean;
  codec: string | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  has_audio: boolean | null;
  error_kind: 'auth_failed' | 'unreachable' | 'not_found' | 'timeout' | 'protocol' | null;
  message: string | null;
}

export interface ApiToken {
  id: number | string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
}

export interface NewApiToken extends ApiToken {
  token: string;
}

export type Platform = 'youtube' | 'facebook' | 'twitch' | 'custom';

export interface Destination {
  id: number | string;
  name: string;
  platform: Platform;
  /** server URL without the key */
  url: string;
  has_stream_key: boolean;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

export interface DestinationInput {
  name: string;
  platform: Platform;
  /** absent: the platform's ingest server (required for custom) */
  url?: string | null;
  /** write-only; absent or null keeps the stored key on update, "" clears it */
  stream_key?: string | null;
  enabled?: boolean;
}

export type StreamState = 'stopped' | 'starting' | 'running' | 'degraded' | 'reconnecting';
export type OutputState = 'idle' | 'starting' | 'running' | 'backoff' | 'failed' | 'stopped';

export interface OutputStatus {
  destination_id: number | string;
  destination: string;
  state: OutputState;
  uptime_s: number;
  fps: number | null;
  bitrate_kbps: number | null;
  speed: number | null;
  restarts: number;
  last_error: string | null;
}

export interface StreamStatus {
  state: StreamState;
  started_at: string | null;
  uptime_s: number;
  audio: 'camera' | 'transcoded' | 'silence' | null;
  outputs: OutputStatus[];
}

export interface Stream {
  id: number | string;
  name: string;
  camera_id: number | string;
  preset_id: number | string | null;
  destination_ids: (number | string)[];
  desired_state: 'running' | 'stopped';
  status: StreamStatus;
  created_at: string;
  updated_at: string;
}

export interface StreamInput {
  name: string;
  camera_id: number | string;
  preset_id?: number | string | null;
  destination_ids: (number | string)[];
}

export interface PtzPosition {
  pan: number;
  tilt: number;
  zoom: number;
}

export interface PtzState {
  position: PtzPosition | null;
  move_status: 'idle' | 'moving' | 'unknown';
}

/** Velocities −1…1 (fraction of the camera's top speed). */
export interface PtzVelocity {
  pan: number;
  tilt: number;
  zoom: number;
  timeout_ms?: number;
}

export interface MoveReport {
  preset_id: number | string;
  camera_id: number | string;
  elapsed_ms: number;
  settled_by: string;
  position: PtzPosition | null;
}

export interface ImportReport {
  imported: Preset[];
  skipped: string[];
}

// ---- transport ----

let onUnauthorized: (() => void) | null = null;

/** Called when any request (other than those that expect a 401) finds the session gone. */
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

interface RequestOptions {
  /** A 401 is an answer to this request (wrong password), not an expired session. */
  allow401?: boolean;
  signal?: AbortSignal;
}

function fallbackMessage(status: number): string {
  switch (status) {
    case 401:
      return 'Your session has ended. Please sign in again.';
    case 403:
      return 'You are not allowed to do this.';
    case 404:
      return 'Not found.';
    case 429:
      return 'Too many attempts. Please wait and try again.';
    case 502:
      return 'The device answered with an error.';
    case 504:
      return 'The device did not answer in time.';
    default:
      return status >= 500 ? 'The appliance had an internal error.' : `Request failed (HTTP ${status}).`;
  }
}

/** Turns a non-2xx response into an ApiError (exported for tests). */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  const retryHeader = res.headers.get('Retry-After');
  const retryAfter = retryHeader && /^\d+$/.test(retryHeader) ? Number(retryHeader) : undefined;
  let body: unknown = null;
  if ((res.headers.get('Content-Type') || '').includes('json')) {
    try {
      body = await res.json();
    } catch {
      body = null;
    }
  }
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const code = typeof b.error === 'string' ? b.error : `http_${res.status}`;
    const message = typeof b.message === 'string' && b.message ? b.message : fallbackMessage(res.status);
    const field = typeof b.field === 'string' && b.field ? b.field : undefined;
    return new ApiError(res.status, code, message, field, retryAfter);
  }
  return new ApiError(res.status, `http_${res.status}`, fallbackMessage(res.status), undefined, retryAfter);
}

export async function request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Cannot reach the appliance. Check the connection and try again.');
  }
  if (res.status === 401 && !opts.allow401 && onUnauthorized) {
    onUnauthorized();
  }
  if (!res.ok) throw await errorFromResponse(res);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('Content-Type') || '';
  if (!type.includes('json')) {
    // e.g. the SPA fallback answered with index.html: the route does not exist on this build.
    throw new ApiError(res.status, 'not_available', 'Not available on this appliance.');
  }
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

const id = (v: number | string) => encodeURIComponent(String(v));

export const api = {
  // auth
  authState: () => request<AuthState>('GET', '/api/auth/state'),
  setup: (username: string, password: string) =>
    request<{ user: User }>('POST', '/api/auth/setup', { username, password }, { allow401: true }),
  login: (username: string, password: string) =>
    request<{ user: User }>('POST', '/api/auth/login', { username, password }, { allow401: true }),
  logout: () => request<void>('POST', '/api/auth/logout', undefined, { allow401: true }),
  changePassword: (current_password: string, new_password: string) =>
    request<void>('POST', '/api/auth/password', { current_password, new_password }, { allow401: true }),
  listTokens: () => request<ApiToken[]>('GET', '/api/auth/tokens'),
  createToken: (name: string) => request<NewApiToken>('POST', '/api/auth/tokens', { name }),
  revokeToken: (tokenId: number | string) => request<void>('DELETE', `/api/auth/tokens/${id(tokenId)}`),

  // cameras
  listCameras: () => request<Camera[]>('GET', '/api/cameras'),
  getCamera: (cameraId: number | string) => request<Camera>('GET', `/api/cameras/${id(cameraId)}`),
  createCamera: (input: CameraInput) => request<Camera>('POST', '/api/cameras', input),
  updateCamera: (cameraId: number | string, input: CameraInput) =>
    request<Camera>('PUT', `/api/cameras/${id(cameraId)}`, input),
  deleteCamera: (cameraId: number | string) => request<void>('DELETE', `/api/cameras/${id(cameraId)}`),
  testUnsavedCamera: (input: CameraInput) => request<TestResult>('POST', '/api/cameras/test', input),
  testCamera: (cameraId: number | string) => request<TestResult>('POST', `/api/cameras/${id(cameraId)}/test`),
  camerasHealth: () => request<CameraHealth[]>('GET', '/api/cameras/health'),

  // presets
  listPresets: (cameraId: number | string) => request<Preset[]>('GET', `/api/cameras/${id(cameraId)}/presets`),
  createPreset: (cameraId: number | string, input: PresetInput) =>
    request<Preset>('POST', `/api/cameras/${id(cameraId)}/presets`, input),
  updatePreset: (presetId: number | string, input: PresetInput) =>
    request<Preset>('PUT', `/api/presets/${id(presetId)}`, input),
  deletePreset: (presetId: number | string) => request<void>('DELETE', `/api/presets/${id(presetId)}`),

  // destinations
  listDestinations: () => request<Destination[]>('GET', '/api/destinations'),
  createDestination: (input: DestinationInput) => request<Destination>('POST', '/api/destinations', input),
  updateDestination: (destinationId: number | string, input: DestinationInput) =>
    request<Destination>('PUT', `/api/destinations/${id(destinationId)}`, input),
  deleteDestination: (destinationId: number | string) =>
    request<void>('DELETE', `/api/destinations/${id(destinationId)}`),

  // streams
  listStreams: (signal?: AbortSignal) => request<Stream[]>('GET', '/api/streams', undefined, { signal }),
  createStream: (input: StreamInput) => request<Stream>('POST', '/api/streams', input),
  updateStream: (streamId: number | string, input: StreamInput) =>
    request<Stream>('PUT', `/api/streams/${id(streamId)}`, input),
  deleteStream: (streamId: number | string) => request<void>('DELETE', `/api/streams/${id(streamId)}`),
  startStream: (streamId: number | string) => request<Stream>('POST', `/api/streams/${id(streamId)}/start`),
  stopStream: (streamId: number | string) => request<Stream>('POST', `/api/streams/${id(streamId)}/stop`),

  // PTZ
  ptzState: (cameraId: number | string) => request<PtzState>('GET', `/api/cameras/${id(cameraId)}/ptz`),
  ptzMove: (cameraId: number | string, v: PtzVelocity) =>
    request<void>('POST', `/api/cameras/${id(cameraId)}/ptz/move`, v),
  ptzStop: (cameraId: number | string) => request<void>('POST', `/api/cameras/${id(cameraId)}/ptz/stop`),
  moveToPreset: (presetId: number | string) => request<MoveReport>('POST', `/api/presets/${id(presetId)}/move`),
  capturePreset: (cameraId: number | string, name: string) =>
    request<Preset>('POST', `/api/cameras/${id(cameraId)}/presets/capture`, { name }),
  importPresets: (cameraId: number | string) =>
    request<ImportReport>('POST', `/api/cameras/${id(cameraId)}/presets/import`),

  // system
  status: () => request<SystemStatus>('GET', '/api/status'),
};

export function snapshotUrl(cameraId: number | string, t: number = Date.now()): string {
  return `/api/cameras/${id(cameraId)}/snapshot?t=${t}`;
}
