import sharp from 'sharp';
import { writeFrameToTensor } from '../src/vision/tensor.js';
import { measurePublish } from './wire-transfer.js';

/**
 * What a frame costs on the wire between processor and detector: raw BGR (what vdet sends) against JPEG
 * (sharp, quality 90). Per frame: bytes, the processor's extra encode, publishing through Kafka, the detector's
 * extra decode, and the tensor fill both paths pay. Timings are one frame at a time (the latency each role adds),
 * mean over every frame.
 */
export interface WireResult {
  frameSize: string;
  jpegQuality: number;
  rawBytes: number;
  /** Mean over the frames. */
  jpegBytes: number;
  /** Raw bytes ÷ JPEG bytes. */
  compression: number;
  jpegEncodeMs: number;
  jpegDecodeMs: number;
  /** writeFrameToTensor: packed BGR bytes → float32 NCHW slot, the only per-frame work of the raw path. */
  tensorFillMs: number;
  /** Publishing 16-frame chunks through vdet's KafkaBus (acks=all), per frame: wall and CPU time. */
  rawPublishMs: number;
  rawPublishCpuMs: number;
  jpegPublishMs: number;
  jpegPublishCpuMs: number;
  /** CPU per frame, raw path: publish + fill. */
  rawPathCpuMs: number;
  /** CPU per frame, JPEG path: encode + publish + decode + fill. */
  jpegPathCpuMs: number;
  /** A 16-frame chunk (VDET_CHUNK_FRAMES default) in each format. */
  chunkRawBytes: number;
  chunkJpegBytes: number;
}

const QUALITY = 90;
const CHUNK_FRAMES = 16;

export async function measureWireFormat(frames: readonly Buffer[], size: number): Promise<WireResult> {
  const raw = { width: size, height: size, channels: 3 as const };
  const tensor = new Float32Array(3 * size * size);
  const encode = (frame: Buffer) => sharp(frame, { raw }).jpeg({ quality: QUALITY }).toBuffer();
  const decode = (jpeg: Buffer) => sharp(jpeg).raw().toBuffer();

  for (const frame of frames.slice(0, 4)) await decode(await encode(frame)); // warm-up: libvips start, caches

  let encodeMs = 0;
  let decodeMs = 0;
  let jpegBytes = 0;
  const jpegs: Buffer[] = [];
  for (const frame of frames) {
    const t0 = performance.now();
    const jpeg = await encode(frame);
    const t1 = performance.now();
    const pixels = await decode(jpeg);
    const t2 = performance.now();
    if (pixels.length !== frame.length) throw new Error(`JPEG round trip gave ${pixels.length} bytes, expected ${frame.length}`);
    encodeMs += t1 - t0;
    decodeMs += t2 - t1;
    jpegBytes += jpeg.length;
    jpegs.push(jpeg);
  }

  const fills = Math.max(200, frames.length);
  const t0 = performance.now();
  for (let i = 0; i < fills; i++) writeFrameToTensor(frames[i % frames.length]!, tensor, 0, size, size);
  const tensorFillMs = (performance.now() - t0) / fills;

  const publish = await measurePublish(frames, jpegs, 6);
  const n = frames.length;
  const mean = { bytes: jpegBytes / n, encode: encodeMs / n, decode: decodeMs / n };
  return {
    frameSize: `${size}x${size}`,
    jpegQuality: QUALITY,
    rawBytes: frames[0]!.length,
    jpegBytes: Math.round(mean.bytes),
    compression: frames[0]!.length / mean.bytes,
    jpegEncodeMs: mean.encode,
    jpegDecodeMs: mean.decode,
    tensorFillMs,
    rawPublishMs: publish.raw.wallMs,
    rawPublishCpuMs: publish.raw.cpuMs,
    jpegPublishMs: publish.jpeg.wallMs,
    jpegPublishCpuMs: publish.jpeg.cpuMs,
    rawPathCpuMs: publish.raw.cpuMs + tensorFillMs,
    jpegPathCpuMs: mean.encode + publish.jpeg.cpuMs + mean.decode + tensorFillMs,
    chunkRawBytes: frames[0]!.length * CHUNK_FRAMES,
    chunkJpegBytes: Math.round(mean.bytes * CHUNK_FRAMES),
  };
}
