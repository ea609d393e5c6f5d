import { execFile } from 'node:child_process';
import ffmpeg from 'fluent-ffmpeg';
import type { Config } from '../platform/config.js';
import { VdetError } from '../platform/errors.js';
import { JpegSplitter, WIRE_JPEG_QUALITY } from './jpeg-splitter.js';
import type { Letterbox } from './letterbox.js';

/**
 * vdet's door to ffmpeg (media/ holds every ffmpeg and ffprobe vdet starts: this file, segment-ffmpeg.ts for GOPs,
 * camera-ffmpeg.ts for cameras, jpeg-frames.ts for `vdet push`, annotate.ts through ffmpeg-process.ts). Uploads
 * are untrusted: ffmpeg picks a demuxer by content, so a playlist or a concat script renamed `.mp4` would make a
 * default ffmpeg open other files. Every call here therefore runs with an
 * argument list (no shell) on a server-made path, with protocol, format and codec whitelists, pixel and stream
 * limits, a CPU time limit and a wall clock that kills the process. ffmpeg's stderr is logged, never returned.
 */
/**
 * The demuxers ffmpeg may use: each reads only the file it is given (no playlists, concat scripts or image
 * sequences, which open other files or URLs).
 */
export const INPUT_FORMATS = ['mov', 'matroska', 'webm', 'mpegts', 'avi', 'mpeg', 'flv', 'gif', 'jpeg_pipe', 'png_pipe', 'webp_pipe', 'bmp_pipe'];
export const INPUT_CODECS = [
  'h264', 'hevc', 'vp8', 'vp9', 'av1', 'libdav1d', 'mpeg4', 'msmpeg4v2', 'msmpeg4v3', 'mpeg1video', 'mpeg2video', 'flv', 'h263',
  'prores', 'mjpeg', 'png', 'webp', 'bmp', 'gif',
  'aac', 'mp3', 'mp3float', 'mp2', 'mp2float', 'ac3', 'opus', 'vorbis', 'flac', 'pcm_s16le', 'pcm_u8',
];

export interface MediaLimits {
  maxWidth: number;
  maxHeight: number;
  maxStreams: number;
  timeoutS: number;
}

/** The limits every ffmpeg call of vdet runs under, from the processor's configuration. */
export function mediaLimits(processor: Config['processor']): MediaLimits {
  return { maxWidth: processor.maxWidth, maxHeight: processor.maxHeight, maxStreams: 16, timeoutS: processor.ffmpegTimeoutS };
}

/** ffmpeg input options that keep it to local files, the accepted formats and codecs, and the size limits. */
export function inputGuards(limits: MediaLimits): string[] {
  return [
    '-protocol_whitelist', 'file',
    '-format_whitelist', INPUT_FORMATS.join(','),
    '-codec_whitelist', INPUT_CODECS.join(','),
    '-max_streams', String(limits.maxStreams),
    '-max_pixels', String(limits.maxWidth * limits.maxHeight),
  ];
}

export interface ProbeResult {
  formatName: string;
  isImage: boolean;
  width: number;
  height: number;
  /** Average frame rate of the video stream; 0 for a still image. */
  fps: number;
  durationMs: number;
  /** Frames in the stream as the container declares them (0 when it does not). */
  declaredFrames: number;
  streams: number;
}

interface FfprobeJson {
  streams?: { codec_type?: string; codec_name?: string; width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string; nb_frames?: string; duration?: string }[];
  format?: { format_name?: string; duration?: string; nb_streams?: number };
}

/** Runs ffprobe on one file; throws VDET_MEDIA_UNREADABLE when it is not a video or image we accept. */
export function probeMedia(path: string, limits: MediaLimits): Promise<ProbeResult> {
  const args = [
    '-v', 'error', ...inputGuards(limits),
    '-print_format', 'json', '-show_streams', '-show_format', path,
  ];
  return new Promise((resolve, reject) => {
    execFile('ffprobe', args, { timeout: limits.timeoutS * 1000, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const timedOut = error.killed === true;
          reject(new VdetError('VDET_MEDIA_UNREADABLE', timedOut
            ? 'Reading the file took too long.'
            : 'The file is not a video or image in a supported format (MP4/MOV, Matroska/WebM, MPEG-TS, AVI, MPEG-PS, FLV, GIF, JPEG, PNG, WebP, BMP).',
          { cause: new Error(stderr.slice(0, 2000)) }));
          return;
        }
        try {
          resolve(interpretProbe(JSON.parse(stdout) as FfprobeJson, stderr));
        } catch (cause) {
          reject(cause instanceof VdetError ? cause : new VdetError('VDET_MEDIA_UNREADABLE', 'The file could not be probed.', { cause }));
        }
      });
  });
}

export function interpretProbe(probe: FfprobeJson, stderr = ''): ProbeResult {
  const formatName = probe.format?.format_name ?? '';
  const video = probe.streams?.find((s) => s.codec_type === 'video' && (s.width ?? 0) > 0 && (s.height ?? 0) > 0);
  if (!video) {
    // ffprobe declines pictures over -max_pixels; say so instead of "no picture".
    const oversized = /Picture size (\d+)x(\d+) is invalid/.exec(stderr);
    if (oversized) throw new VdetError('VDET_MEDIA_LIMIT', `The picture is ${oversized[1]}x${oversized[2]}, more pixels than accepted.`);
    throw new VdetError('VDET_MEDIA_UNREADABLE', 'The file has no video stream or image.');
  }
  const isImage = formatName.endsWith('_pipe');
  const fps = isImage ? 0 : parseRate(video.avg_frame_rate) || parseRate(video.r_frame_rate);
  const durationS = Number(video.duration ?? probe.format?.duration ?? 0) || 0;
  return {
    formatName,
    isImage,
    width: video.width!,
    height: video.height!,
    fps,
    durationMs: isImage ? 0 : Math.round(durationS * 1000),
    declaredFrames: isImage ? 1 : Number(video.nb_frames ?? 0) || 0,
    streams: probe.streams?.length ?? 0,
  };
}

function parseRate(rate: string | undefined): number {
  if (!rate) return 0;
  const [num, den] = rate.split('/').map(Number);
  if (!num || !den || !Number.isFinite(num / den)) return 0;
  return num / den;
}

export interface DecodeRequest {
  path: string;
  letterbox: Letterbox;
  /** Output frame rate (constant); undefined for a still image. */
  fps: number | undefined;
  /** Decode from this time, for this long (undefined: to the end). */
  startMs: number;
  durationMs: number | undefined;
  isImage: boolean;
  maxFrames: number;
  limits: MediaLimits;
  /**
   * What each frame becomes: `bgr24`, raw pixels; `jpeg`, a JPEG file of them (ffmpeg's MJPEG encoder at
   * {@link WIRE_JPEG_QUALITY}, full-resolution chroma), a twentieth of the bytes for the wire. Default `bgr24`.
   */
  output?: 'bgr24' | 'jpeg';
  /** Decoder threads (`-threads`); undefined: ffmpeg's choice (as many as cores). */
  threads?: number;
  /**
   * Receives each frame's letterboxed image, `letterbox.width × letterbox.height` (the model input's grey padding is
   * the detector's: see FrameLayout), packed BGR or a JPEG file as `output` says; the stream waits for the returned
   * promise (backpressure).
   */
  onFrame(frame: Buffer, index: number): Promise<void>;
  onStderr?(text: string): void;
}

/**
 * Decodes and scales every frame for the model's letterbox in ffmpeg, streaming raw BGR images without the padding
 * (for 16:9 video, 44 % fewer bytes to copy and send); resolves with the frame count.
 */
export async function decodeFrames(request: DecodeRequest): Promise<number> {
  const { letterbox: lb, limits } = request;
  const frameSize = lb.width * lb.height * 3;
  const jpeg = request.output === 'jpeg';
  const filters = [
    // round=up: output frame n is the source frame on screen at n / fps (the time it is reported at). The default,
    // round=near, takes the last frame rounding to n: at 5 of 25 frames/s, source frame 5n + 2, 80 ms late.
    ...(request.fps ? [`fps=fps=${request.fps}:round=up`] : []),
    ...letterboxFilters(lb, jpeg ? 'yuvj444p' : 'bgr24'),
  ];
  const command = ffmpeg(request.path, { timeout: limits.timeoutS })
    .inputOptions([
      ...inputGuards(limits), '-timelimit', String(limits.timeoutS),
      ...(request.threads ? ['-threads', String(request.threads)] : []),
      ...(request.startMs > 0 ? ['-ss', (request.startMs / 1000).toFixed(3)] : []),
    ])
    .outputOptions([
      '-map', '0:v:0', '-an', '-sn', '-dn',
      '-vf', filters.join(','),
      ...(request.fps ? ['-fps_mode', 'cfr'] : []),
      ...(request.durationMs !== undefined ? ['-t', (request.durationMs / 1000).toFixed(3)] : []),
      '-frames:v', String(request.isImage ? 1 : request.maxFrames + 1),
      ...(jpeg ? ['-c:v', 'mjpeg', '-q:v', String(WIRE_JPEG_QUALITY), '-f', 'image2pipe'] : ['-f', 'rawvideo']),
    ])
    .addOption('-nostdin')
    .addOption('-v', 'error')
    .on('stderr', (line: string) => request.onStderr?.(line));
  const exited = new Promise<void>((resolve, reject) => {
    command.on('end', () => resolve()).on('error', (error: Error) => reject(error));
  });
  exited.catch(() => undefined); // observed below; avoids an unhandled rejection while frames are still read
  let frames = 0;
  const deliver = async (frame: Buffer) => {
    if (frames >= request.maxFrames) throw new VdetError('VDET_MEDIA_LIMIT', `The media has more than ${request.maxFrames} frames.`);
    try {
      await request.onFrame(frame, frames++);
    } catch (error) {
      throw new FrameConsumerError(error);
    }
  };
  try {
    if (jpeg) {
      const files = new JpegSplitter();
      for await (const data of command.pipe() as AsyncIterable<Buffer>) {
        for (const file of files.push(data)) await deliver(file);
      }
      await exited;
      if (files.pending > 0) throw new VdetError('VDET_MEDIA_DECODE_FAILED', 'The decoder produced a partial frame.');
      return frames;
    }
    for await (const frame of rawFrames(command.pipe() as AsyncIterable<Buffer>, frameSize)) await deliver(frame);
    await exited;
    return frames;
  } catch (error) {
    command.kill('SIGKILL');
    if (error instanceof FrameConsumerError) throw error.inner; // the caller's own error, unchanged
    if (error instanceof VdetError) throw error;
    const timedOut = error instanceof Error && /timeout/.test(error.message);
    throw new VdetError('VDET_MEDIA_DECODE_FAILED', timedOut ? 'Decoding took longer than allowed.' : 'The video could not be decoded.', { cause: error });
  }
}

/**
 * The filters that make a decoded frame the model's letterboxed image: one swscale pass resizes and converts, with
 * full-resolution chroma and exact rounding (closest to the reference's RGB-space bilinear resize). The detector
 * pads to the model's input, grey exactly 114. Every decode of frames for the model uses these, so pixels are the
 * same whichever role decodes.
 */
export function letterboxFilters(lb: Pick<Letterbox, 'width' | 'height'>, pixelFormat: 'bgr24' | 'yuvj444p'): string[] {
  return [`scale=w=${lb.width}:h=${lb.height}:flags=bilinear+accurate_rnd+full_chroma_int`, `format=${pixelFormat}`];
}

/**
 * Cuts ffmpeg's rawvideo output into frames of `frameSize` bytes, each a buffer of its own (the consumer may keep
 * it); throws VDET_MEDIA_DECODE_FAILED when the output ends inside a frame.
 */
export async function* rawFrames(output: AsyncIterable<Buffer>, frameSize: number): AsyncGenerator<Buffer> {
  let frame = Buffer.allocUnsafe(frameSize);
  let filled = 0;
  for await (const data of output) {
    for (let offset = 0; offset < data.length;) {
      const n = Math.min(frameSize - filled, data.length - offset);
      data.copy(frame, filled, offset, offset + n);
      filled += n;
      offset += n;
      if (filled < frameSize) continue;
      yield frame;
      frame = Buffer.allocUnsafe(frameSize);
      filled = 0;
    }
  }
  if (filled !== 0) throw new VdetError('VDET_MEDIA_DECODE_FAILED', 'The decoder produced a partial frame.');
}

class FrameConsumerError extends Error {
  constructor(readonly inner: unknown) {
    super('onFrame failed');
  }
}

/**
 * Runs a prepared command quietly (`-nostdin -v error`): its exit as a promise (already observed, so a failure while
 * frames are still read is not unhandled) and the tail of its stderr, for an error message.
 */
export function watched(command: ffmpeg.FfmpegCommand): { exited: Promise<void>; stderr(): string } {
  command.addOption('-nostdin').addOption('-v', 'error');
  let stderr = '';
  command.on('stderr', (line: string) => (stderr = `${stderr}\n${line}`.slice(-2000)));
  const exited = new Promise<void>((resolve, reject) => {
    command.on('end', () => resolve()).on('error', (error: Error) => reject(error));
  });
  exited.catch(() => undefined);
  return { exited, stderr: () => stderr };
}

/** ": <ffmpeg's last stderr line>", or "." when it said nothing. */
export function lastLine(stderr: string): string {
  return stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : '.';
}
