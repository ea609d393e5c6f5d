import type { Logger } from 'pino';
import type { Infra } from '../runtime/infra.js';
import type { Service } from '../platform/service.js';
import { chunkMessageBytes, type Config } from '../platform/config.js';
import { VdetError } from '../platform/errors.js';
import type { ModelInput } from '../media/letterbox.js';
import { modelGeometry } from '../vision/model-file.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { buildAddressPolicy } from '../platform/address-policy.js';
import { systemResolver } from '../platform/guarded-http.js';
import { createProcessor } from './app.js';
import { pullCamera } from '../media/camera-ffmpeg.js';
import { CameraPuller } from './camera-puller.js';
import { CameraSupervisor } from './camera-supervisor.js';
import { mediaLimits } from '../media/ffmpeg.js';
import { hlsSegments } from './hls-source.js';
import { createStreamProcessor } from './stream-app.js';

/** Both sides of the processor: uploaded files (vdet.jobs) and pushed frames (vdet.frames). */
export async function startProcessor(infra: Infra): Promise<Service> {
  const log = infra.log.child({ role: 'processor' });
  const model = await modelGeometry(infra.config.model);
  const modelInput = { width: model.inputWidth, height: model.inputHeight };
  checkChunkFits(infra.config, modelInput);
  log.info({ input: `${modelInput.width}x${modelInput.height}`, from: model.fromFile ? infra.config.model.path : 'VDET_MODEL_INPUT_SIZE' }, 'model input');
  const processor = createProcessor({ ...infra, log, modelInput });
  const streams = createStreamProcessor({ ...infra, log, modelInput });
  await processor.start();
  await streams.start();
  const cameras = infra.config.cameras.enabled ? startCameras(infra, log, streams) : undefined;
  return {
    name: 'processor',
    close: async () => {
      await cameras?.close();
      await streams.close();
      await processor.close();
    },
  };
}

/** The cameras this processor pulls (`PUT /v1/streams/{id}/source`), shared with the other processors by lease. */
function startCameras(infra: Infra, log: Logger, streams: ReturnType<typeof createStreamProcessor>): CameraSupervisor {
  const { config } = infra;
  const policy = buildAddressPolicy(false, config.cameras.allowHosts).policy;
  const processorId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const supervisor = new CameraSupervisor({
    log, streams: infra.streams, leases: infra.cameras, processorId,
    leaseMs: config.cameras.leaseMs, maxPerProcessor: config.cameras.maxPerProcessor,
    startPuller: (record, changed) => new CameraPuller({
      source: record.source!, policy, resolve: systemResolver, limits: mediaLimits(config.processor),
      log: log.child({ stream: record._id }), pull: pullCamera, hls: hlsSegments,
      deliver: (frames) => streams.deliverCameraFrames(record, frames),
      dropped: (n) => void infra.streams.countAll(new Map([[record._id, { ref: record, fields: { framesIn: n, dropped: n } }]])),
      changed,
    }),
  });
  supervisor.start();
  log.info({ processorId, leaseMs: config.cameras.leaseMs }, 'processor taking camera sources');
  return supervisor;
}

/** A chunk of VDET_CHUNK_FRAMES frames of the model's input must fit one Kafka message. */
function checkChunkFits(config: Config, input: ModelInput): void {
  const bytes = chunkMessageBytes(config.processor.chunkFrames, input.width, input.height);
  if (bytes > config.kafka.maxMessageBytes) {
    throw new VdetError('VDET_CONFIG_INVALID', `VDET_CHUNK_FRAMES (${config.processor.chunkFrames}) frames of the model's ${input.width}x${input.height} input take ${bytes} bytes, more than VDET_KAFKA_MAX_MESSAGE_BYTES (${config.kafka.maxMessageBytes}) allows: lower VDET_CHUNK_FRAMES.`);
  }
}
