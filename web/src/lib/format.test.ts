import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatPercent,
  formatRelative,
  formatStreamInfo,
  formatUptime,
  protocolFromAddress,
  redactUrl,
} from './format';

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(4 * 1024 ** 3)).toBe('4 GB');
    expect(formatBytes(123.4 * 1024 ** 2)).toBe('123 MB');
  });
  it('shows a dash for missing values', () => {
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(undefined)).toBe('—');
    expect(formatBytes(-1)).toBe('—');
  });
});

describe('formatUptime', () => {
  it('picks the largest units', () => {
    expect(formatUptime(45)).toBe('45s');
    expect(formatUptime(125)).toBe('2m 5s');
    expect(formatUptime(3 * 3600 + 7 * 60)).toBe('3h 7m');
    expect(formatUptime(93784)).toBe('1d 2h 3m');
  });
  it('shows a dash for missing values', () => {
    expect(formatUptime(null)).toBe('—');
  });
});

describe('formatPercent', () => {
  it('rounds', () => {
    expect(formatPercent(3.14159)).toBe('3.1%');
    expect(formatPercent(42.6)).toBe('43%');
    expect(formatPercent(null)).toBe('—');
  });
});

describe('formatRelative', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  it('describes the distance to now', () => {
    expect(formatRelative(null, now)).toBe('never');
    expect(formatRelative('2024-05-01T11:59:58Z', now)).toBe('just now');
    expect(formatRelative('2024-05-01T11:59:30Z', now)).toBe('30 s ago');
    expect(formatRelative('2024-05-01T11:55:00Z', now)).toBe('5 min ago');
    expect(formatRelative('2024-05-01T09:00:00Z', now)).toBe('3 h ago');
    expect(formatRelative('2024-04-30T12:00:00Z', now)).toBe('1 day ago');
    expect(formatRelative('2024-04-28T12:00:00Z', now)).toBe('3 days ago');
    expect(formatRelative('garbage', now)).toBe('unknown');
  });
});

describe('formatStreamInfo', () => {
  it('joins what is known', () => {
    expect(formatStreamInfo({ codec: 'h264', width: 1280, height: 720, fps: 30, has_audio: true })).toBe(
      'H264 · 1280×720 · 30 fps · audio',
    );
    expect(formatStreamInfo({ codec: 'hevc', fps: 29.97, has_audio: false })).toBe('HEVC · 29.97 fps · no audio');
    expect(formatStreamInfo({})).toBe('');
  });
});

describe('addresses', () => {
  it('redacts credentials', () => {
    expect(redactUrl('rtsp://user:pw@127.0.0.1:8554/cam1')).toBe('rtsp://127.0.0.1:8554/cam1');
    expect(redactUrl('rtsp://127.0.0.1/cam1')).toBe('rtsp://127.0.0.1/cam1');
  });
  it('guesses the protocol from the scheme', () => {
    expect(protocolFromAddress('rtsps://h/x')).toBe('RTSPS');
    expect(protocolFromAddress(' srt://h:9000')).toBe('SRT');
    expect(protocolFromAddress('http://h')).toBeNull();
    expect(protocolFromAddress('not a url')).toBeNull();
  });
});
