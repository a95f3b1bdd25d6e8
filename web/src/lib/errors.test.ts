import { describe, expect, it } from 'vitest';
import { ApiError, errorFromResponse } from '../api';
import { describeLoadError, mapApiError } from './errors';

describe('mapApiError', () => {
  it('puts a field error next to a known field', () => {
    const err = new ApiError(422, 'validation', 'Name must not be empty.', 'name');
    expect(mapApiError(err, ['name', 'address'])).toEqual({ fields: { name: 'Name must not be empty.' }, form: null });
  });
  it('uses aliases for server field names', () => {
    const err = new ApiError(422, 'validation', 'Bad host', 'onvif.host');
    expect(mapApiError(err, ['onvif_host'], { 'onvif.host': 'onvif_host' }).fields).toEqual({ onvif_host: 'Bad host' });
  });
  it('falls back to a form-level alert for unknown fields', () => {
    const err = new ApiError(422, 'validation', 'must be a number', 'settle_ms');
    expect(mapApiError(err, ['name'])).toEqual({ fields: {}, form: 'Settle ms: must be a number' });
  });
  it('mentions the wait after too many attempts', () => {
    const err = new ApiError(429, 'rate_limited', 'Too many failed logins.', undefined, 120);
    expect(mapApiError(err, []).form).toBe('Too many failed logins. (try again in 2 min)');
  });
  it('starts messages with a capital letter', () => {
    const err = new ApiError(422, 'validation', 'must not be empty', 'name');
    expect(mapApiError(err, ['name']).fields.name).toBe('Must not be empty');
    expect(mapApiError(new ApiError(401, 'unauthenticated', 'wrong username or password'), []).form).toBe(
      'Wrong username or password',
    );
  });
  it('handles non-API errors', () => {
    expect(mapApiError(new Error('boom'), []).form).toBe('boom');
    expect(mapApiError('weird', []).form).toBe('Something went wrong. Please try again.');
  });
});

describe('errorFromResponse', () => {
  it('reads the JSON error body', async () => {
    const res = new Response(JSON.stringify({ error: 'conflict', message: 'Name taken', field: 'name' }), {
      status: 409,
      headers: { 'Content-Type': 'application/json' },
    });
    const err = await errorFromResponse(res);
    expect(err.status).toBe(409);
    expect(err.code).toBe('conflict');
    expect(err.message).toBe('Name taken');
    expect(err.field).toBe('name');
  });
  it('survives a non-JSON body', async () => {
    const res = new Response('<html>', { status: 404, headers: { 'Content-Type': 'text/html' } });
    const err = await errorFromResponse(res);
    expect(err.notAvailable).toBe(true);
    expect(describeLoadError(err)).toBe('Not available on this appliance.');
  });
  it('reads Retry-After', async () => {
    const res = new Response(JSON.stringify({ error: 'rate_limited', message: 'Slow down' }), {
      status: 429,
      headers: { 'Content-Type': 'application/json', 'Retry-After': '30' },
    });
    expect((await errorFromResponse(res)).retryAfter).toBe(30);
  });
});

import { describeTestResult } from './testResult';

describe('describeTestResult', () => {
  it('describes a working stream', () => {
    const r = describeTestResult({
      reachable: true,
      codec: 'h264',
      width: 640,
      height: 480,
      fps: 25,
      has_audio: false,
      error_kind: null,
      message: 'connected',
      elapsed_ms: 120,
    });
    expect(r).toEqual({ ok: true, title: 'Connection successful', detail: 'H264 · 640×480 · 25 fps · no audio' });
  });
  it('explains a failure in words', () => {
    const r = describeTestResult({
      reachable: false,
      codec: null,
      width: null,
      height: null,
      fps: null,
      has_audio: null,
      error_kind: 'auth_failed',
      message: '401 Unauthorized',
      elapsed_ms: 80,
    });
    expect(r.ok).toBe(false);
    expect(r.detail).toBe('The camera refused the username or password. (401 Unauthorized)');
  });
});
