import { Type, type Static } from '@sinclair/typebox';

/** What a user may ask of a job; validated by the api, stored on the job, carried in the job message. */
export const JobOptionsSchema = Type.Object(
  {
    fps: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 240, description: 'Sample frames at this rate (frames per second). Default: every frame.' })),
    minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Keep detections scoring at least this. Default: 0.3.' })),
  },
  { additionalProperties: false, $id: 'JobOptions' },
);
export type JobOptions = Static<typeof JobOptionsSchema>;
