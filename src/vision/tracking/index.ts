export { solveAssignment, type Assignment } from './assignment.js';
export { boxIou, type Box } from './box.js';
export { ByteTracker, type TrackableDetection } from './byte-tracker.js';
export { evaluateTracks, type EvaluationOptions, type ObjectEvaluation, type ReferenceTrackFrame, type TrackedFrame, type TrackingEvaluation } from './evaluate.js';
export { DEFAULT_TRACKER_OPTIONS, TrackerOptionsError, resolveTrackerOptions, type TrackerOptions } from '../../contracts/tracker-options.js';
export type { TrackerState } from './state.js';
