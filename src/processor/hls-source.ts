import type { AddressPolicy } from '../platform/address-policy.js';
import { AddressRefused, guardedGet, type Resolver } from '../platform/guarded-http.js';
import { chooseVariant, parsePlaylist, PlaylistInvalid, type Segment } from './hls-playlist.js';

export interface HlsSourceOptions {
  policy: AddressPolicy;
  resolve?: Resolver;
  signal: AbortSignal;
}

const PLAYLIST_MAX_BYTES = 1024 * 1024;
const SEGMENT_MAX_BYTES = 64 * 1024 * 1024;
const ANSWER_TIMEOUT_MS = 10_000;
/** Live playlists are joined this many segments from their end (RFC 8216 §6.3.3 asks for at least three target durations). */
const LIVE_EDGE_SEGMENTS = 3;

/** One GET through the address rules (every request and redirect checked), its body bounded. */
async function fetchBytes(url: string, maxBytes: number, options: HlsSourceOptions): Promise<{ body: Buffer; url: string }> {
  const { response, url: finalUrl } = await guardedGet(url, { policy: options.policy, ...(options.resolve ? { resolve: options.resolve } : {}), answerTimeoutMs: ANSWER_TIMEOUT_MS, signal: options.signal })
    .catch((error: unknown) => {
      // Say which host: a playlist may name hosts other than the camera URL's.
      throw error instanceof AddressRefused ? new AddressRefused(`vdet does not fetch from ${new URL(url).host}: ${error.message}`) : error;
    });
  if (response.statusCode !== 200) {
    response.resume();
    throw new Error(`${new URL(finalUrl).host} answered ${response.statusCode} for ${new URL(finalUrl).pathname}`);
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of response as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > maxBytes) {
      response.destroy();
      throw new Error(`a playlist or segment is larger than ${maxBytes} bytes`);
    }
    parts.push(part);
  }
  return { body: Buffer.concat(parts), url: finalUrl };
}

/**
 * The segments of a live HLS stream as they appear, as bytes: the master playlist's variant is chosen once, the media
 * playlist is read again every half target duration, and each new segment is fetched by vdet (so ffmpeg opens no URL
 * and every host a playlist names is checked). Ends when the playlist ends; throws when a request fails.
 */
export async function* hlsSegments(url: string, options: HlsSourceOptions): AsyncGenerator<Buffer> {
  let playlistUrl = url;
  let last: number | undefined;
  for (;;) {
    const fetched = await fetchBytes(playlistUrl, PLAYLIST_MAX_BYTES, options);
    const playlist = parsePlaylist(fetched.body.toString('utf8'), fetched.url);
    if (playlist.kind === 'master') {
      if (playlistUrl !== url) throw new PlaylistInvalid('A variant playlist is itself a master playlist.');
      playlistUrl = chooseVariant(playlist.variants).url;
      continue;
    }
    const fresh: Segment[] = last === undefined
      ? playlist.segments.slice(playlist.ended ? 0 : -LIVE_EDGE_SEGMENTS)
      : playlist.segments.filter((s) => s.sequence > last!);
    for (const segment of fresh) {
      yield (await fetchBytes(segment.url, SEGMENT_MAX_BYTES, options)).body;
      last = segment.sequence;
    }
    if (playlist.ended) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, (playlist.targetDurationS / 2) * 1000);
      options.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
    if (options.signal.aborted) return;
  }
}
