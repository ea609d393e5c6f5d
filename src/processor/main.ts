import type { Infra } from '../shared/infra.js';
import type { Service } from '../shared/service.js';
import { chunkMessageBytes, type Config } from '../shared/config.js';
import { VdetError } from '../shared/errors.js';
import type { ModelInput } from '../shared/letterbox.js';
import { modelGeometry } from '../shared/model-file.js';
import { createProcessor } from './app.js';
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
  return {
    name: 'processor',
    close: async () => {
      await streams.close();
      await processor.close();
    },
  };
}

/** A chunk of VDET_CHUNK_FRAMES frames of the model's input must fit one Kafka message. */
function checkChunkFits(config: Config, input: ModelInput): void {
  const bytes = chunkMessageBytes(config.processor.chunkFrames, input.width, input.height);
  if (bytes > config.kafka.maxMessageBytes) {
    throw new VdetError('VDET_CONFIG_INVALID', `VDET_CHUNK_FRAMES (${config.processor.chunkFrames}) frames of the model's ${input.width}x${input.height} input take ${bytes} bytes, more than VDET_KAFKA_MAX_MESSAGE_BYTES (${config.kafka.maxMessageBytes}) allows: lower VDET_CHUNK_FRAMES.`);
  }
}
