import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { VdetError } from '../platform/errors.js';
import { inputGuards, lastLine, letterboxFilters, rawFrames, watched, type MediaLimits } from './ffmpeg.js';
import { SEGMENT_CODECS, type PacketProbe, type VideoPacket } from './segment-plan.js';

/**
 * ffmpeg for encoded video on the wire (segment-plan.ts says which media): list an upload's video packets, cut it
 * into runs of whole GOPs without decoding (a remux), and decode one run back into the model's letterboxed frames.
 * The same guards as every other ffmpeg call (ffmpeg.ts); a run comes from Kafka, so its decoder is held to one
 * container, one codec and the pixel limit, and reads only the pipe it is given.
 */

/** The container a run of GOPs travels in: Matroska carries H.264 as it is in MP4 (no bitstream rewrite). */
const SEGMENT_FORMAT = 'matroska';

/** Lists the first video stream's packets (decode order) with its codec and time base; no frame is decoded. */
export function probePackets(file: string, limits: MediaLimits, maxPackets: number): Promise<PacketProbe> {
  const args = [
    '-v', 'error', ...inputGuards(limits), '-select_streams', 'v:0',
    '-show_entries', 'packet=pts,size,flags:stream=codec_name,time_base:format=start_time', '-of', 'compact', file,
  ];
  return new Promise((resolve, reject) => {
    execFile('ffprobe', args, { timeout: limits.timeoutS * 1000, killSignal: 'SIGKILL', maxBuffer: 64 * (maxPackets + 1000) },
      (error, stdout, stderr) => {
        if (error) {
          reject(new VdetError('VDET_MEDIA_UNREADABLE', 'The video\'s packets could not be listed.', { cause: new Error(stderr.slice(0, 2000) || error.message) }));
          return;
        }
        resolve(parsePacketList(stdout));
      });
  });
}

/** Reads ffprobe's compact output (`packet|pts=…|size=…|flags=K_`, `stream|…`, `format|…` lines). */
export function parsePacketList(text: string): PacketProbe {
  const packets: VideoPacket[] = [];
  let codec = '';
  let timeBase = 0;
  let formatStartS = 0;
  for (const line of text.split('\n')) {
    const [section, ...pairs] = line.trim().split('|');
    const field = (name: string) => pairs.find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1);
    if (section === 'packet') {
      const pts = field('pts');
      packets.push({ pts: pts === undefined || pts === 'N/A' ? NaN : Number(pts), size: Number(field('size')), key: (field('flags') ?? '').startsWith('K') });
    } else if (section === 'stream') {
      codec = field('codec_name') ?? '';
      const [num, den] = (field('time_base') ?? '').split('/').map(Number);
      timeBase = num && den ? num / den : 0;
    } else if (section === 'format') {
      formatStartS = Number(field('start_time')) || 0;
    }
  }
  return { codec, timeBase, formatStartS, packets };
}

/**
 * Cuts the first video stream into files of whole GOPs, split before each packet index in `splits` (each a key
 * frame), copying packets as they are. Resolves with the files, in order.
 */
export async function cutSegments(file: string, dir: string, splits: readonly number[], limits: MediaLimits): Promise<string[]> {
  const args = [
    '-nostdin', '-v', 'error', ...inputGuards(limits), '-timelimit', String(limits.timeoutS), '-i', file,
    '-map', '0:v:0', '-c', 'copy', '-f', 'segment', '-segment_format', SEGMENT_FORMAT,
    ...(splits.length > 0 ? ['-segment_frames', splits.join(',')] : ['-segment_time', '999999999']),
    path.join(dir, 'segment-%06d.mkv'),
  ];
  await new Promise<void>((resolve, reject) => {
    execFile('ffmpeg', args, { timeout: limits.timeoutS * 1000, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
      if (error) reject(new VdetError('VDET_MEDIA_DECODE_FAILED', 'The video could not be cut into chunks.', { cause: new Error(stderr.slice(0, 2000) || error.message) }));
      else resolve();
    });
  });
  const files = (await readdir(dir)).filter((name) => name.startsWith('segment-')).sort();
  if (files.length !== splits.length + 1) {
    throw new VdetError('VDET_MEDIA_DECODE_FAILED', `Cutting the video gave ${files.length} chunks, not the ${splits.length + 1} planned.`);
  }
  return files.map((name) => path.join(dir, name));
}

export interface SegmentDecodeRequest {
  /** A run of GOPs, as cutSegments writes it (untrusted: it came over Kafka). */
  segment: Buffer;
  /** Its codec (only SEGMENT_CODECS are decoded) and how many frames it must decode to. */
  codec: string;
  frames: number;
  /** The letterboxed image each frame becomes (packed BGR). */
  width: number;
  height: number;
  limits: MediaLimits;
  /** Decoder threads: 1 where the model needs the other cores. */
  threads: number;
}

/**
 * Decodes a run of GOPs into the model's letterboxed frames, in display order, one buffer each; the generator pulls
 * from ffmpeg only as fast as its consumer takes frames. Throws VDET_MEDIA_DECODE_FAILED when the run does not decode
 * to exactly its frame count.
 */
export async function* decodeSegment(request: SegmentDecodeRequest): AsyncGenerator<Buffer> {
  const { limits } = request;
  if (!SEGMENT_CODECS.includes(request.codec)) throw new VdetError('VDET_MESSAGE_INVALID', `Chunk: video in ${request.codec} is not decoded here`);
  const command = ffmpeg(Readable.from([request.segment]), { timeout: limits.timeoutS })
    .inputFormat(SEGMENT_FORMAT)
    .inputOptions([
      '-protocol_whitelist', 'pipe', '-format_whitelist', SEGMENT_FORMAT, '-codec_whitelist', request.codec,
      '-max_streams', '1', '-max_pixels', String(limits.maxWidth * limits.maxHeight),
      '-timelimit', String(limits.timeoutS), '-threads', String(request.threads),
    ])
    .outputOptions([
      '-map', '0:v:0', '-an', '-sn', '-dn', '-vf', letterboxFilters(request, 'bgr24').join(','),
      '-fps_mode', 'passthrough', '-frames:v', String(request.frames + 1), '-f', 'rawvideo',
    ])
  const { exited, stderr } = watched(command);
  let decoded = 0;
  let finished = false;
  try {
    for await (const frame of rawFrames(command.pipe() as AsyncIterable<Buffer>, request.width * request.height * 3)) {
      if (++decoded > request.frames) break;
      yield frame;
    }
    if (decoded <= request.frames) await exited;
    finished = true;
  } catch (error) {
    if (error instanceof VdetError) throw error;
    throw new VdetError('VDET_MEDIA_DECODE_FAILED', `A chunk of the video could not be decoded${lastLine(stderr())}`, { cause: error });
  } finally {
    if (!finished || decoded > request.frames) command.kill('SIGKILL');
  }
  if (decoded > request.frames) throw new VdetError('VDET_MEDIA_DECODE_FAILED', `A chunk of the video decoded to more than the ${request.frames} frames it holds.`);
  if (decoded < request.frames) throw new VdetError('VDET_MEDIA_DECODE_FAILED', `A chunk of the video decoded to ${decoded} of the ${request.frames} frames it holds.`);
}
