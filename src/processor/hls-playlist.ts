/**
 * HLS playlists (RFC 8216), read as far as a live camera needs: a master playlist's variants, and a media playlist's
 * segments with their sequence numbers. Pure: vdet fetches every playlist and segment itself, each address checked,
 * and ffmpeg only ever sees segment bytes on a pipe.
 */
export interface Variant {
  url: string;
  bandwidth: number;
  height: number | undefined;
}

export interface Segment {
  url: string;
  sequence: number;
  durationS: number;
}

export type Playlist =
  | { kind: 'master'; variants: Variant[] }
  | { kind: 'media'; targetDurationS: number; segments: Segment[]; ended: boolean };

/** A playlist vdet cannot pull: not HLS, no variant, fMP4 or encrypted segments. */
export class PlaylistInvalid extends Error {}

const attribute = (attributes: string, name: string) => new RegExp(`(?:^|,)${name}=("[^"]*"|[^,]*)`).exec(attributes)?.[1]?.replace(/^"|"$/g, '');

export function parsePlaylist(text: string, base: string): Playlist {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines[0] !== '#EXTM3U') throw new PlaylistInvalid('The URL is not an HLS playlist (no #EXTM3U).');
  const resolve = (uri: string) => new URL(uri, base).toString();
  if (lines.some((l) => l.startsWith('#EXT-X-STREAM-INF:'))) {
    const variants: Variant[] = [];
    lines.forEach((line, i) => {
      if (!line.startsWith('#EXT-X-STREAM-INF:')) return;
      const uri = lines[i + 1];
      if (!uri || uri.startsWith('#')) return;
      const attributes = line.slice('#EXT-X-STREAM-INF:'.length);
      const resolution = attribute(attributes, 'RESOLUTION');
      variants.push({ url: resolve(uri), bandwidth: Number(attribute(attributes, 'BANDWIDTH') ?? 0), height: resolution ? Number(resolution.split('x')[1]) : undefined });
    });
    if (variants.length === 0) throw new PlaylistInvalid('The master playlist names no variant.');
    return { kind: 'master', variants };
  }
  if (lines.some((l) => l.startsWith('#EXT-X-MAP:'))) throw new PlaylistInvalid('The playlist\'s segments are fragmented MP4 (#EXT-X-MAP); vdet reads MPEG-TS segments.');
  const key = lines.find((l) => l.startsWith('#EXT-X-KEY:'));
  if (key && attribute(key.slice('#EXT-X-KEY:'.length), 'METHOD') !== 'NONE') throw new PlaylistInvalid('The playlist\'s segments are encrypted (#EXT-X-KEY); vdet does not decrypt them.');
  const targetDurationS = Number(lines.find((l) => l.startsWith('#EXT-X-TARGETDURATION:'))?.split(':')[1]);
  if (!(targetDurationS > 0)) throw new PlaylistInvalid('The media playlist has no #EXT-X-TARGETDURATION.');
  let sequence = Number(lines.find((l) => l.startsWith('#EXT-X-MEDIA-SEQUENCE:'))?.split(':')[1] ?? 0);
  const segments: Segment[] = [];
  let durationS = targetDurationS;
  for (const line of lines) {
    if (line.startsWith('#EXTINF:')) durationS = Number.parseFloat(line.slice('#EXTINF:'.length)) || targetDurationS;
    else if (!line.startsWith('#')) segments.push({ url: resolve(line), sequence: sequence++, durationS });
  }
  return { kind: 'media', targetDurationS, segments, ended: lines.includes('#EXT-X-ENDLIST') };
}

/** The variant to pull: the best one up to 1080 lines (detection gains nothing above; decoding costs more), else the smallest. */
export function chooseVariant(variants: readonly Variant[]): Variant {
  const fitting = variants.filter((v) => v.height === undefined || v.height <= 1080);
  const pool = fitting.length > 0 ? fitting : [...variants].sort((a, b) => (a.height ?? 0) - (b.height ?? 0)).slice(0, 1);
  return [...pool].sort((a, b) => b.bandwidth - a.bandwidth)[0]!;
}
