// Names for the API's shapes, taken from the types generated from the appliance's OpenAPI
// document (schema.d.ts: run `make api-types` after changing the API, never edit it by hand).
// Only what the document cannot say is written here: lists for pickers and the body of a
// request that the document leaves untyped.

import type { components } from './schema';

type S = components['schemas'];

/** T with the properties of R replacing its own (Omit would drop T's named properties when T also
 * has an index signature, as the timeline types do). */
type Refine<T, R> = { [K in keyof T as K extends keyof R ? never : K]: T[K] } & R;

// auth
export type User = S['UserInfo'];
export type AuthState = S['AuthState'];
export type LoggedIn = S['LoggedIn'];
export type ApiToken = S['TokenInfo'];
/** The answer to creating a token: the only one that carries the token itself. */
export type NewApiToken = ApiToken & { token: string };

// cameras, presets, health
export type Camera = S['Camera'];
export type CameraInput = S['CameraInput'];
export type CameraType = S['CameraKind'];
export type Protocol = S['Protocol'];
export const PROTOCOLS: Protocol[] = ['RTSP', 'RTSPS', 'RTMP', 'RTMPS', 'SRT'];
export type Preset = S['Preset'];
export type PresetInput = S['PresetInput'];
export type CameraHealth = S['CameraHealth'];
export type CameraSession = S['CameraSessionView'];
export type SessionState = S['SessionStateView'];
export type HealthState = S['HealthState'];
export type TestResult = S['ConnectionTest'];
export type SystemStatus = S['SystemStatus'];

// PTZ
export type PtzState = S['PtzState'];
export type PtzVelocity = S['PtzVelocity'];
export type PtzPosition = NonNullable<PtzState['position']>;
export type MoveReport = S['MoveReport'];
export type ImportReport = S['ImportReport'];
export type PtzStep = S['PtzStep'];
export type StepReport = S['StepReport'];

// the journal (Events page)
export type JournalEntry = S['JournalEntry'];

// destinations and streams
export type Platform = S['Platform'];
export type Destination = S['Destination'];
export type DestinationTest = S['DestinationTest'];
export type UplinkLive = S['UplinkLive'];
export type DestinationInput = S['DestinationInput'];
export type Stream = S['Stream'];
export type StreamInput = S['StreamInput'];
export type StreamStatus = S['StreamStatus'];
export type StreamState = StreamStatus['state'];
export type OutputStatus = S['OutputStatus'];
export type OutputState = OutputStatus['state'];

// programs
export type Program = S['ProgramView'];
export type ProgramInput = S['ProgramInput'];
export type ProgramOverlay = S['ProgramOverlay'];
export type ProgramLive = S['ProgramLive'];

/** `GET /api/system/encoders`: the document calls it a JSON value; this is its shape. */
export interface EncoderProbe {
  selected: string | null;
  results: { encoder: string; ok: boolean; error: string | null; elapsed_ms: number }[];
}

// overlays and assets
export type Overlay = S['Overlay'];
export type OverlayInput = S['OverlayInput'];
export type OverlayKind = S['OverlayKind'];
export type OverlayDefinition = S['OverlayDefinition'];
export type Asset = S['Asset'];
export const OVERLAY_KINDS: { value: OverlayKind; label: string }[] = [
  { value: 'image', label: 'Image' },
  { value: 'text', label: 'Text' },
  { value: 'clock', label: 'Clock' },
  { value: 'url_image', label: 'Image from URL' },
  { value: 'url_text', label: 'Text from URL' },
];

// timelines
// The document marks `id`, `tracks`, `playback`, a track's `name` and `clips` optional because a
// request may leave them out; the appliance's answers always carry them.
export type Clip = S['Clip'];
export type Track = Refine<S['Track'], { name: string; clips: Clip[] }>;
export type Timeline = Refine<S['TimelineView'], { id: string; playback: S['Playback']; tracks: Track[] }>;
export type TimelineInput = S['Timeline'];
export type ClipSource = S['ClipSource'];
export type Issue = S['Issue'];
export type ImportResult = Omit<S['ImportResult'], 'timeline'> & { timeline: Timeline };
export type PlayerStatus = S['PlayerStatus'];
