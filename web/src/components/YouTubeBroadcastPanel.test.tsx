// @vitest-environment jsdom
import { render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import YouTubeBroadcastPanel from './YouTubeBroadcastPanel';

const destination = {
  id: 3,
  name: 'Channel',
  platform: 'youtube' as const,
  url: 'rtmps://a.rtmps.youtube.com/live2',
  has_stream_key: true,
  has_url_credentials: false,
  enabled: true,
  tls_verify: true,
  created_at: '',
  updated_at: '',
};

function answer(routes: Record<string, unknown>) {
  return vi.fn((input: RequestInfo | URL) => {
    const path = typeof input === 'string' ? input : input instanceof URL ? input.pathname : input.url;
    const body = routes[path] ?? [];
    return Promise.resolve(
      new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } }),
    );
  });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('YouTubeBroadcastPanel', () => {
  it('shows the code to enter while the sign-in is pending', async () => {
    vi.stubGlobal(
      'fetch',
      answer({
        '/api/destinations/3/youtube': {
          destination_id: 3,
          state: 'pending',
          client_id: 'x.apps.googleusercontent.com',
          has_client_secret: true,
          user_code: 'GQVQ-JKEC',
          verification_url: 'https://www.google.com/device',
          stream_bound: false,
        },
      }),
    );
    render(<YouTubeBroadcastPanel destination={destination} />);
    await waitFor(() => expect(screen.getByTestId('youtube-code').textContent).toContain('GQVQ-JKEC'));
    expect(screen.getByRole('link', { name: 'https://www.google.com/device' })).toBeTruthy();
  });

  it('lists the broadcasts with their state, problem and watch link', async () => {
    vi.stubGlobal(
      'fetch',
      answer({
        '/api/destinations/3/youtube': {
          destination_id: 3,
          state: 'linked',
          has_client_secret: true,
          stream_bound: true,
        },
        '/api/destinations/3/youtube/broadcasts': [
          {
            id: 1,
            timeline_id: 'show',
            broadcast_id: 'abc123',
            title: 'Harbour live',
            state: 'waiting',
            message: 'taking the broadcast live (will retry): YouTube answered 403 invalidTransition',
            transition_failures: 1,
            scheduled_start: '2026-01-01T00:00:00Z',
            watch_url: 'https://www.youtube.com/watch?v=abc123',
          },
        ],
      }),
    );
    render(<YouTubeBroadcastPanel destination={destination} />);
    await waitFor(() => expect(screen.getByTestId('youtube-broadcasts').textContent).toContain('Harbour live'));
    const list = screen.getByTestId('youtube-broadcasts');
    expect(list.textContent).toContain('waiting');
    expect(list.textContent).toContain('invalidTransition');
    const watch = screen.getByRole('link', { name: 'Watch on YouTube' });
    expect(watch.getAttribute('href')).toBe('https://www.youtube.com/watch?v=abc123');
    expect(screen.getByRole('button', { name: 'Sign out of YouTube' })).toBeTruthy();
  });
});
