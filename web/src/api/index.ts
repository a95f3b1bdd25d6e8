// Every endpoint the UI calls, typed with the types generated from the appliance's OpenAPI
// document (./types.ts), all through the one `request` of ./client.ts. Ids are numbers, as the
// API's are; timelines keep the string ids VistterStudio gives them.

import { request } from './client';
import type {
  ApiToken,
  Asset,
  AuthState,
  Camera,
  CameraHealth,
  CameraInput,
  CameraSession,
  Destination,
  DestinationInput,
  DestinationTest,
  EncoderProbe,
  ImportReport,
  ImportResult,
  Issue,
  JournalEntry,
  LoggedIn,
  MoveReport,
  NewApiToken,
  Overlay,
  OverlayInput,
  PlayerStatus,
  Preset,
  PresetInput,
  Program,
  ProgramInput,
  ProgramOverlay,
  PtzState,
  PtzStep,
  PtzVelocity,
  Stream,
  StepReport,
  StreamInput,
  SystemStatus,
  TestResult,
  Timeline,
  TimelineInput,
} from './types';

export { ApiError, errorFromResponse, request, setUnauthorizedHandler } from './client';
export * from './types';

const seg = (v: number | string) => encodeURIComponent(String(v));

export const api = {
  // auth
  authState: () => request<AuthState>('GET', '/api/auth/state'),
  setup: (username: string, password: string) =>
    request<LoggedIn>('POST', '/api/auth/setup', { username, password }, { allow401: true }),
  login: (username: string, password: string) =>
    request<LoggedIn>('POST', '/api/auth/login', { username, password }, { allow401: true }),
  logout: () => request<void>('POST', '/api/auth/logout', undefined, { allow401: true }),
  changePassword: (current_password: string, new_password: string) =>
    request<void>('POST', '/api/auth/password', { current_password, new_password }, { allow401: true }),
  listTokens: () => request<ApiToken[]>('GET', '/api/auth/tokens'),
  createToken: (name: string) => request<NewApiToken>('POST', '/api/auth/tokens', { name }),
  revokeToken: (tokenId: number) => request<void>('DELETE', `/api/auth/tokens/${seg(tokenId)}`),

  // cameras
  listCameras: () => request<Camera[]>('GET', '/api/cameras'),
  getCamera: (cameraId: number) => request<Camera>('GET', `/api/cameras/${seg(cameraId)}`),
  createCamera: (input: CameraInput) => request<Camera>('POST', '/api/cameras', input),
  updateCamera: (cameraId: number, input: CameraInput) =>
    request<Camera>('PUT', `/api/cameras/${seg(cameraId)}`, input),
  deleteCamera: (cameraId: number) => request<void>('DELETE', `/api/cameras/${seg(cameraId)}`),
  testUnsavedCamera: (input: CameraInput) => request<TestResult>('POST', '/api/cameras/test', input),
  testCamera: (cameraId: number) => request<TestResult>('POST', `/api/cameras/${seg(cameraId)}/test`),
  camerasHealth: () => request<CameraHealth[]>('GET', '/api/cameras/health'),
  cameraSession: (cameraId: number) => request<CameraSession>('GET', `/api/cameras/${seg(cameraId)}/session`),

  // presets
  listPresets: (cameraId: number) => request<Preset[]>('GET', `/api/cameras/${seg(cameraId)}/presets`),
  createPreset: (cameraId: number, input: PresetInput) =>
    request<Preset>('POST', `/api/cameras/${seg(cameraId)}/presets`, input),
  updatePreset: (presetId: number, input: PresetInput) =>
    request<Preset>('PUT', `/api/presets/${seg(presetId)}`, input),
  deletePreset: (presetId: number) => request<void>('DELETE', `/api/presets/${seg(presetId)}`),

  // destinations
  listDestinations: () => request<Destination[]>('GET', '/api/destinations'),
  createDestination: (input: DestinationInput) => request<Destination>('POST', '/api/destinations', input),
  updateDestination: (destinationId: number, input: DestinationInput) =>
    request<Destination>('PUT', `/api/destinations/${seg(destinationId)}`, input),
  deleteDestination: (destinationId: number) => request<void>('DELETE', `/api/destinations/${seg(destinationId)}`),
  testDestination: (destinationId: number) =>
    request<DestinationTest>('POST', `/api/destinations/${seg(destinationId)}/test`, {}),

  // streams
  listStreams: (signal?: AbortSignal) => request<Stream[]>('GET', '/api/streams', undefined, { signal }),
  getStream: (streamId: number) => request<Stream>('GET', `/api/streams/${seg(streamId)}`),
  createStream: (input: StreamInput) => request<Stream>('POST', '/api/streams', input),
  updateStream: (streamId: number, input: StreamInput) =>
    request<Stream>('PUT', `/api/streams/${seg(streamId)}`, input),
  deleteStream: (streamId: number) => request<void>('DELETE', `/api/streams/${seg(streamId)}`),
  startStream: (streamId: number) => request<Stream>('POST', `/api/streams/${seg(streamId)}/start`),
  stopStream: (streamId: number) => request<Stream>('POST', `/api/streams/${seg(streamId)}/stop`),

  // PTZ
  ptzState: (cameraId: number) => request<PtzState>('GET', `/api/cameras/${seg(cameraId)}/ptz`),
  ptzMove: (cameraId: number, v: PtzVelocity) => request<void>('POST', `/api/cameras/${seg(cameraId)}/ptz/move`, v),
  ptzStop: (cameraId: number) => request<void>('POST', `/api/cameras/${seg(cameraId)}/ptz/stop`),
  ptzStep: (cameraId: number, step: PtzStep) =>
    request<StepReport>('POST', `/api/cameras/${seg(cameraId)}/ptz/step`, step),
  moveToPreset: (presetId: number) => request<MoveReport>('POST', `/api/presets/${seg(presetId)}/move`),
  capturePreset: (cameraId: number, name: string) =>
    request<Preset>('POST', `/api/cameras/${seg(cameraId)}/presets/capture`, { name }),
  importPresets: (cameraId: number) => request<ImportReport>('POST', `/api/cameras/${seg(cameraId)}/presets/import`),

  // system
  status: () => request<SystemStatus>('GET', '/api/status'),
  recentEvents: (q: { limit?: number; subject_type?: string; subject_id?: number; severity?: string } = {}) => {
    const qs = new URLSearchParams(
      Object.entries(q)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    ).toString();
    return request<JournalEntry[]>('GET', `/api/events/recent${qs ? `?${qs}` : ''}`);
  },
};

export const studio = {
  // programs
  listPrograms: () => request<Program[]>('GET', '/api/programs'),
  getProgram: (p: number) => request<Program>('GET', `/api/programs/${seg(p)}`),
  createProgram: (input: ProgramInput) => request<Program>('POST', '/api/programs', input),
  updateProgram: (p: number, input: ProgramInput) => request<Program>('PUT', `/api/programs/${seg(p)}`, input),
  deleteProgram: (p: number) => request<void>('DELETE', `/api/programs/${seg(p)}`),
  startProgram: (p: number) => request<Program>('POST', `/api/programs/${seg(p)}/start`),
  stopProgram: (p: number) => request<Program>('POST', `/api/programs/${seg(p)}/stop`),
  take: (p: number, camera_id: number, preset_id?: number | null) =>
    request<Program>('POST', `/api/programs/${seg(p)}/take`, {
      camera_id,
      ...(preset_id != null ? { preset_id } : {}),
    }),
  slate: (p: number) => request<Program>('POST', `/api/programs/${seg(p)}/slate`),
  preroll: (p: number, camera_id: number) => request<void>('POST', `/api/programs/${seg(p)}/preroll`, { camera_id }),
  setProgramOverlays: (p: number, list: ProgramOverlay[]) =>
    request<Program>('PUT', `/api/programs/${seg(p)}/overlays`, list),
  encoders: () => request<EncoderProbe>('GET', '/api/system/encoders'),

  // overlays and assets
  listOverlays: () => request<Overlay[]>('GET', '/api/overlays'),
  createOverlay: (input: OverlayInput) => request<Overlay>('POST', '/api/overlays', input),
  updateOverlay: (o: number, input: OverlayInput) => request<Overlay>('PUT', `/api/overlays/${seg(o)}`, input),
  deleteOverlay: (o: number) => request<void>('DELETE', `/api/overlays/${seg(o)}`),
  listAssets: () => request<Asset[]>('GET', '/api/assets'),
  uploadAsset: (file: File) =>
    request<Asset>('POST', `/api/assets?name=${encodeURIComponent(file.name)}`, {
      raw: file,
      contentType: file.type || 'image/png',
    }),

  // timelines
  listTimelines: () => request<Timeline[]>('GET', '/api/timelines'),
  getTimeline: (t: string) => request<Timeline>('GET', `/api/timelines/${seg(t)}`),
  createTimeline: (t: TimelineInput) => request<Timeline>('POST', '/api/timelines', t),
  updateTimeline: (id: string, t: TimelineInput) => request<Timeline>('PUT', `/api/timelines/${seg(id)}`, t),
  deleteTimeline: (t: string) => request<void>('DELETE', `/api/timelines/${seg(t)}`),
  validateTimeline: (t: TimelineInput) =>
    request<{ errors: Issue[]; warnings: Issue[] }>('POST', '/api/timelines/validate', t),
  importTimeline: (text: string) =>
    request<ImportResult>('POST', '/api/timelines/import', { raw: text, contentType: 'application/json' }),
  startTimeline: (t: string) => request<PlayerStatus>('POST', `/api/timelines/${seg(t)}/start`),
  stopTimeline: (t: string) => request<PlayerStatus>('POST', `/api/timelines/${seg(t)}/stop`),
  jump: (t: string, clip_id: string) => request<PlayerStatus>('POST', `/api/timelines/${seg(t)}/jump`, { clip_id }),
  playerStatus: () => request<PlayerStatus>('GET', '/api/stream/status'),
};

export function snapshotUrl(cameraId: number, t: number = Date.now()): string {
  return `/api/cameras/${seg(cameraId)}/snapshot?t=${t}`;
}

export function snapshotUrlSized(cameraId: number, width: number, t: number = Date.now()): string {
  return `/api/cameras/${seg(cameraId)}/snapshot?width=${width}&t=${t}`;
}
