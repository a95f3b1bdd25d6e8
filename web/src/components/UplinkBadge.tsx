// A destination's uplink as the appliance measures it while publishing (RTMP/RTMPS): the rate
// the network really takes, what waits, what was dropped to stay live, and a red "Congested"
// pill that says why and what bitrate would fit.

import type { UplinkLive } from '../api';

function kbps(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(1)} Mb/s` : `${v} kb/s`;
}

function bytes(v: number): string {
  if (v >= 1_000_000) return `${(v / 1_000_000).toFixed(1)} MB`;
  if (v >= 1000) return `${Math.round(v / 1000)} kB`;
  return `${v} B`;
}

/** The sentence the operator acts on: what was measured and what would fit. */
export function congestionAdvice(u: UplinkLive): string | null {
  if (!u.congested) return null;
  const why = u.congestion_reason ?? `the uplink takes ${kbps(u.send_kbps)} of a ${kbps(u.input_kbps)} stream`;
  const fit = u.suggested_kbps != null ? ` A total bitrate of about ${kbps(u.suggested_kbps)} would fit.` : '';
  return `Congested: ${why}.${fit}`;
}

export default function UplinkBadge({ uplink }: { uplink: UplinkLive | null | undefined }) {
  if (!uplink) return null;
  const advice = congestionAdvice(uplink);
  return (
    <span className="inline-flex flex-wrap items-center gap-1.5 text-xs text-slate-500" data-testid="uplink">
      <span className="tabular-nums" title="What the network takes now">
        ↑ {kbps(uplink.send_kbps)}
      </span>
      {uplink.queue_ms > 0 && (
        <span className="tabular-nums" title="Media waiting to be sent">
          · queue {uplink.queue_ms} ms
        </span>
      )}
      {uplink.dropped_bytes > 0 && (
        <span
          className="tabular-nums"
          title="Media dropped to stay live (slow uplink, or while the destination was down)"
        >
          · dropped {bytes(uplink.dropped_bytes)}
        </span>
      )}
      {advice && (
        <span
          className="rounded-full bg-red-50 px-2 py-0.5 font-medium text-red-700 ring-1 ring-inset ring-red-200"
          title={advice}
          data-testid="uplink-congested"
        >
          Congested
        </span>
      )}
      {advice && <span className="basis-full text-red-700">{advice}</span>}
    </span>
  );
}
