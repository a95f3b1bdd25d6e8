import { describe, expect, it } from 'vitest';
import { ApiError } from '../api';
import {
  isStream,
  describePtzError,
  formatBitrate,
  formatFps,
  outputStateStyle,
  platformInfo,
  streamStateStyle,
  velocityFor,
  withSubject,
} from './streaming';

describe('withSubject', () => {
  it('adds the field to messages that lack a subject', () => {
    expect(withSubject('The stream key', "is required: copy it from the platform's live dashboard")).toBe(
      "The stream key is required: copy it from the platform's live dashboard",
    );
    expect(withSubject('The URL', 'must be an rtmp://, rtmps:// or srt:// address')).toBe(
      'The URL must be an rtmp://, rtmps:// or srt:// address',
    );
  });
  it('keeps complete sentences and capitalizes them', () => {
    expect(withSubject('The name', 'a destination named X already exists')).toBe(
      'A destination named X already exists',
    );
    expect(withSubject('The name', undefined)).toBeUndefined();
  });
});

describe('formatBitrate / formatFps', () => {
  it('picks kbit/s or Mbit/s', () => {
    expect(formatBitrate(800.4)).toBe('800 kbit/s');
    expect(formatBitrate(2500)).toBe('2.5 Mbit/s');
    expect(formatBitrate(3000)).toBe('3 Mbit/s');
    expect(formatBitrate(12_345)).toBe('12 Mbit/s');
    expect(formatBitrate(null)).toBe('—');
  });
  it('shows frames per second', () => {
    expect(formatFps(30)).toBe('30 fps');
    expect(formatFps(29.97)).toBe('30 fps');
    expect(formatFps(14.5)).toBe('14.5 fps');
    expect(formatFps(null)).toBe('—');
  });
});

describe('state styles', () => {
  it('names every stream and output state', () => {
    expect(streamStateStyle('reconnecting').label).toBe('Reconnecting');
    expect(streamStateStyle('degraded').label).toBe('Degraded');
    expect(streamStateStyle('something-new').label).toBe('Something-new');
    expect(outputStateStyle('backoff').label).toBe('Retrying');
    expect(outputStateStyle('running').label).toBe('Live');
  });
  it('knows the platforms, custom for anything else', () => {
    expect(platformInfo('youtube').defaultUrl).toBe('rtmps://a.rtmps.youtube.com:443/live2');
    expect(platformInfo('rtmp').value).toBe('custom');
  });
});

describe('velocityFor', () => {
  it('scales directions by the speed', () => {
    expect(velocityFor('up', 0.5)).toEqual({ pan: 0, tilt: 0.5, zoom: 0, timeout_ms: 1500 });
    expect(velocityFor('down-left', 1)).toEqual({ pan: -1, tilt: -1, zoom: 0, timeout_ms: 1500 });
    expect(velocityFor('zoom-out', 0.3, 1000)).toEqual({ pan: 0, tilt: 0, zoom: -0.3, timeout_ms: 1000 });
  });
  it('keeps the speed within 0.1 and 1', () => {
    expect(velocityFor('right', 5).pan).toBe(1);
    expect(velocityFor('right', 0).pan).toBe(0.1);
    expect(Object.is(velocityFor('right', 0.5).tilt, -0)).toBe(false);
  });
});

describe('describePtzError', () => {
  it('puts camera errors in words', () => {
    const unreachable = new ApiError(502, 'device_error', 'cannot reach the camera: 10.0.0.9:80: Connection refused');
    expect(describePtzError(unreachable)).toBe('Cannot reach the camera: 10.0.0.9:80: Connection refused');
    const notPtz = new ApiError(409, 'invalid_state', "camera 'Gate' is not a PTZ camera");
    expect(describePtzError(notPtz)).toBe("Camera 'Gate' is not a PTZ camera");
  });
  it('says a timeout is one', () => {
    expect(describePtzError(new ApiError(504, 'timeout', 'the camera did not answer GetStatus within 5.0 s'))).toBe(
      'The camera did not answer GetStatus within 5.0 s',
    );
    expect(describePtzError(new ApiError(504, 'http_504', 'gateway'))).toBe(
      'The camera did not answer in time (Gateway).',
    );
  });
  it('tells when the appliance has no PTZ routes', () => {
    expect(describePtzError(new ApiError(404, 'not_available', 'x'))).toBe(
      'PTZ control is not available on this appliance.',
    );
    expect(describePtzError(new ApiError(404, 'not_found', 'preset 4 not found'))).toBe('Preset 4 not found');
  });
});

describe('isStream', () => {
  it('tells a whole stream from a reference to one', () => {
    const stream = { id: 3, name: 'Harbor', status: { state: 'running', outputs: [] }, destination_ids: [1] };
    expect(isStream(stream)).toBe(true);
    expect(isStream({ id: 3 })).toBe(false);
    expect(isStream(null)).toBe(false);
    expect(isStream('3')).toBe(false);
  });
});
