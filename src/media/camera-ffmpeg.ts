import { Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { INPUT_CODECS, type MediaLimits } from './ffmpeg.js';
import { JpegSplitter } from './jpeg-splitter.js';

/**
 * The door to ffmpeg for cameras (beside ffmpeg.ts, the one for files): ffmpeg connects to one camera, at an
 * address vdet has already checked, with the demuxer forced (RTSP, or MPEG-TS over SRT), only the network
 * protocols that demuxer needs, the codec whitelist and the pixel limit; or, for HLS, reads MPEG-TS segments vdet
 * fetched itself from a pipe (it opens no URL). It writes JPEG frames at the source's fps.
 * A live source is read as fast as it comes (no backpressure onto the camera): the caller keeps the newest frames.
 */
export interface CameraPullRequest {
  /**
   * RTSP or SRT: the camera's URL with its host replaced by the address that was checked. HLS: the stream's MPEG-TS
   * segments, fetched by vdet (src/processor/hls-source.ts), on ffmpeg's stdin.
   */
  input: { url: string } | { segments: AsyncIterable<Buffer> };
  fps: number;
  limits: MediaLimits;
  /** No frame for this long (and no connection within it): the camera is taken for gone and ffmpeg is stopped. */
  stallMs: number;
  onFrame(jpeg: Buffer): void;
}

export interface CameraPull {
  stop(): void;
  /** Settles when ffmpeg has exited: how many frames came, and why it ended when that was not `stop`. */
  ended: Promise<{ frames: number; error?: string }>;
}

/** JPEG quality of pulled frames (ffmpeg's 2-31 scale): decoded once by the stream path, as a camera's own JPEG would be. */
const CAMERA_JPEG_QUALITY = 3;

function inputOptionsFor(input: CameraPullRequest['input'], limits: MediaLimits): string[] {
  const scheme = 'url' in input ? new URL(input.url).protocol : 'pipe:';
  const transport = scheme === 'pipe:' ? ['-protocol_whitelist', 'pipe', '-f', 'mpegts']
    : scheme === 'srt:' ? ['-protocol_whitelist', 'srt,udp', '-rw_timeout', '10000000', '-f', 'mpegts']
      : ['-protocol_whitelist', scheme === 'rtsps:' ? 'tcp,tls' : 'tcp', '-rtsp_transport', 'tcp', '-timeout', '10000000', '-f', 'rtsp'];
  return [
    ...transport,
    '-codec_whitelist', INPUT_CODECS.join(','),
    '-max_streams', String(limits.maxStreams),
    '-max_pixels', String(limits.maxWidth * limits.maxHeight),
  ];
}

export function pullCamera(request: CameraPullRequest): CameraPull {
  let inputError: string | undefined;
  const segments = 'segments' in request.input ? Readable.from(request.input.segments) : undefined;
  const command = ffmpeg(segments ?? (request.input as { url: string }).url)
    .inputOptions(inputOptionsFor(request.input, request.limits))
    .outputOptions([
      '-map', '0:v:0', '-an', '-sn', '-dn',
      '-vf', `fps=fps=${request.fps}:round=up`,
      '-c:v', 'mjpeg', '-q:v', String(CAMERA_JPEG_QUALITY), '-pix_fmt', 'yuvj420p',
      '-f', 'image2pipe',
    ])
    .addOption('-nostdin')
    .addOption('-v', 'error');
  let lastLine = '';
  command.on('stderr', (line: string) => {
    // ffmpeg names the URL in its errors, password and all: what it says is shown to the tenant and logged.
    if (line.trim()) lastLine = line.trim().replace(/(\/\/[^/\s:@]*:)[^@\s/]*@/g, '$1***@').slice(0, 300);
  });
  let frames = 0;
  let stopped = false;
  let stalled = false;
  let watchdog: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      stalled = true;
      command.kill('SIGKILL');
    }, request.stallMs);
  };
  const ended = new Promise<{ frames: number; error?: string }>((resolve) => {
    const finish = (error?: string) => {
      clearTimeout(watchdog);
      resolve({ frames, ...(stopped ? {} : { error: inputError ?? (stalled ? `no frame for ${Math.round(request.stallMs / 1000)} s` : (error ?? 'the camera ended the stream')) }) });
    };
    command.on('end', () => finish()).on('error', (error: Error) => finish(lastLine || error.message.split('\n')[0]));
  });
  segments?.on('error', (error: Error) => {
    inputError = error.message; // a playlist or segment request failed: the pull ends with why
    command.kill('SIGKILL');
  });
  const files = new JpegSplitter();
  const output = command.pipe();
  output.on('data', (data: Buffer) => {
    for (const jpeg of files.push(data)) {
      frames++;
      arm();
      request.onFrame(jpeg);
    }
  });
  output.on('error', () => undefined); // ffmpeg's own end reports why
  arm();
  return {
    stop: () => {
      stopped = true;
      command.kill('SIGKILL');
    },
    ended,
  };
}
