// What is on air, in words: the running programs (with their camera and destinations), the
// started camera-to-destination streams and the playing timeline. One sentence per thing, so a
// page can always say whether anything goes out.

import type { Camera, Destination, PlayerStatus, Program, Stream } from '../api';

export interface OnAirLine {
  key: string;
  text: string;
}

/** The names of `ids` among `destinations`, in order ("#3" for one not loaded). */
export function destinationNames(ids: number[], destinations: Destination[] | undefined): string[] {
  const byId = new Map((destinations ?? []).map((d) => [d.id, d.name]));
  return ids.map((id) => byId.get(id) ?? `destination ${id}`);
}

/** "A", "A and B", "A, B and C". */
export function listWords(names: string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** The program timelines play through: the running one with the lowest id, else the first. */
export function timelineProgram(programs: Program[]): Program | null {
  const byId = [...programs].sort((a, b) => a.id - b.id);
  return byId.find((p) => p.live) ?? byId[0] ?? null;
}

export function describeOnAir({
  programs,
  streams,
  destinations,
  cameras,
  player,
}: {
  programs: Program[];
  streams: Stream[];
  destinations: Destination[] | undefined;
  cameras: Camera[];
  player: PlayerStatus | null;
}): OnAirLine[] {
  const lines: OnAirLine[] = [];
  const camName = (id: number | null | undefined) => cameras.find((c) => c.id === id)?.name ?? null;
  const playing = player && player.state === 'playing' ? player : null;
  const throughId = timelineProgram(programs)?.id;
  for (const p of programs) {
    if (!p.live) continue;
    const to = listWords(destinationNames(p.destination_ids, destinations)) || 'no destination';
    const cam = p.live.slate_active ? null : camName(p.live.on_air_camera_id);
    const showing = p.live.slate_active ? 'the slate' : cam ? `camera ${cam}` : 'the slate (no camera taken yet)';
    let text = `Program “${p.name}” is on air to ${to}, showing ${showing}.`;
    if (playing && p.id === throughId) text += ` Timeline “${playing.timeline_name ?? playing.timeline_id}” drives it.`;
    lines.push({ key: `p${p.id}`, text });
  }
  for (const s of streams) {
    if (s.status.state === 'stopped') continue;
    const to = listWords(destinationNames(s.destination_ids, destinations)) || 'no destination';
    const cam = camName(s.camera_id) ?? `camera ${s.camera_id}`;
    const how = s.status.state === 'running' ? 'is on air' : `is ${s.status.state}`;
    lines.push({ key: `s${s.id}`, text: `Stream “${s.name}” ${how} to ${to} (${cam}).` });
  }
  return lines;
}
