import ffmpeg from 'fluent-ffmpeg';
import { VdetError } from '../platform/errors.js';
import { inputGuards, lastLine, watched, type MediaLimits } from './ffmpeg.js';
import { JpegSplitter } from './jpeg-splitter.js';

export interface JpegFramesRequest {
  path: string;
  /** Output frame rate; undefined: the video's own. */
  fps: number | undefined;
  /** Play the file again and again (until `onFrame` stops it). */
  loop: boolean;
  /** ffmpeg's JPEG quality scale, 2 (best) to 31. */
  quality: number;
  limits: MediaLimits;
  /** Receives each frame as a JPEG file; the stream waits for the returned promise. Resolve `false` to stop. */
  onFrame(jpeg: Buffer, index: number): Promise<boolean>;
}

/**
 * Decodes a video into JPEG frames (`vdet push`: a file played as a camera), with the same guards as every other
 * call. Resolves with the frames delivered.
 */
export async function encodeJpegFrames(request: JpegFramesRequest): Promise<number> {
  const command = ffmpeg(request.path)
    .inputOptions([...inputGuards(request.limits), ...(request.loop ? ['-stream_loop', '-1'] : [])])
    .outputOptions([
      '-map', '0:v:0', '-an', '-sn', '-dn',
      ...(request.fps ? ['-vf', `fps=fps=${request.fps}:round=up`, '-fps_mode', 'cfr'] : []),
      '-c:v', 'mjpeg', '-q:v', String(request.quality), '-pix_fmt', 'yuvj420p',
      '-f', 'image2pipe',
    ])
  const { exited, stderr: stderrTail } = watched(command);
  let frames = 0;
  const files = new JpegSplitter();
  try {
    for await (const data of command.pipe() as AsyncIterable<Buffer>) {
      for (const jpeg of files.push(data)) {
        if (!(await request.onFrame(jpeg, frames++))) {
          command.kill('SIGKILL');
          return frames;
        }
      }
    }
    await exited;
    return frames;
  } catch (error) {
    command.kill('SIGKILL');
    if (error instanceof VdetError) throw error;
    throw new VdetError('VDET_MEDIA_DECODE_FAILED', `The video could not be decoded${lastLine(stderrTail())}`, { cause: error });
  }
}
