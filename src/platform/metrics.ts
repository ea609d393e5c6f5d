import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of every role, in one registry per process: under `vdet all` the api's /metrics serves all
 * four roles; a role run alone serves them on VDET_METRICS_PORT. Names carry the `vdet_` prefix.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'vdet_' });

const seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const metrics = {
  framesDecoded: new Counter({ name: 'vdet_frames_decoded_total', help: 'Frames decoded and letterboxed by the processor', labelNames: ['source'], registers: [registry] }),
  chunksProduced: new Counter({ name: 'vdet_chunks_produced_total', help: 'Chunks published to vdet.chunks', labelNames: ['source'], registers: [registry] }),
  batchSize: new Histogram({ name: 'vdet_batch_size', help: 'Frames per model run', labelNames: ['device'], buckets: [1, 2, 4, 8, 16, 32], registers: [registry] }),
  inferenceSeconds: new Histogram({ name: 'vdet_inference_seconds', help: 'Time of one model run (a batch)', labelNames: ['device'], buckets: seconds, registers: [registry] }),
  modelsLoaded: new Gauge({ name: 'vdet_models_loaded', help: 'Registered models a detector has loaded beside its default', registers: [registry] }),
  modelLoads: new Counter({ name: 'vdet_model_loads_total', help: 'Registered model versions a detector loaded (outcome: ok, failed)', labelNames: ['model', 'outcome'], registers: [registry] }),
  framesInFlight: new Gauge({ name: 'vdet_frames_in_flight', help: 'Frames waiting for or running on a device', registers: [registry] }),
  consumerLag: new Gauge({ name: 'vdet_consumer_lag', help: 'Messages behind the end of the partition', labelNames: ['group', 'topic', 'partition'], registers: [registry] }),
  jobDurationSeconds: new Histogram({ name: 'vdet_job_duration_seconds', help: 'From upload to done', buckets: [1, 5, 10, 30, 60, 300, 900, 3600], registers: [registry] }),
  jobsFinished: new Counter({ name: 'vdet_jobs_finished_total', help: 'Jobs that ended', labelNames: ['status'], registers: [registry] }),
  streamLatencySeconds: new Histogram({ name: 'vdet_stream_latency_seconds', help: 'Capture to result, per stream frame', buckets: seconds, registers: [registry] }),
  framesMerged: new Counter({ name: 'vdet_frames_merged_total', help: 'Frame results stored by the merger', labelNames: ['source'], registers: [registry] }),
  errors: new Counter({ name: 'vdet_errors_total', help: 'Errors by code', labelNames: ['code'], registers: [registry] }),
  annotatedRenders: new Counter({ name: 'vdet_annotated_renders_total', help: 'Annotated videos rendered by the api (outcome: ok, failed)', labelNames: ['outcome'], registers: [registry] }),
  annotatedRenderSeconds: new Histogram({ name: 'vdet_annotated_render_seconds', help: 'Time to render and store one annotated video', buckets: [1, 2.5, 5, 10, 30, 60, 300, 900, 3600], registers: [registry] }),
  deadLetters: new Counter({ name: 'vdet_dead_letters_total', help: 'Messages sent to vdet.dlq', labelNames: ['topic', 'code'], registers: [registry] }),
  cameraSources: new Gauge({ name: 'vdet_camera_sources', help: 'Camera sources this processor pulls, by state', labelNames: ['state'], registers: [registry] }),
  cameraReconnects: new Counter({ name: 'vdet_camera_reconnects_total', help: 'Camera connections lost or refused, then tried again', registers: [registry] }),
  cameraFramesPulled: new Counter({ name: 'vdet_camera_frames_pulled_total', help: 'Frames pulled from cameras', registers: [registry] }),
  cameraFramesDropped: new Counter({ name: 'vdet_camera_frames_dropped_total', help: 'Pulled frames dropped before the stream path (it fell behind the camera)', registers: [registry] }),
  cameraLeaseMoves: new Counter({ name: 'vdet_camera_lease_moves_total', help: 'Sources taken over from a processor whose lease lapsed', registers: [registry] }),
};
