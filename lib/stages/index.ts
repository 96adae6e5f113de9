export { DropReason, type DropEvent } from './drop-reasons';
export { SheddingStage, DEFAULT_STAGE_CAPACITY, type SheddingStageOptions, type StageMetrics } from './shedding-stage';
export { DropOldestStage, dropOldest, type DropOldestOptions } from './drop-oldest';
export { DropNewestStage, dropNewest, type DropNewestOptions } from './drop-newest';
export {
  SampleStage,
  sample,
  SampleMode,
  type SampleOptions,
  type SampleMetrics,
  type SampleThreshold,
} from './sample';
export { ShedByPriorityStage, shedByPriority, type ShedByPriorityOptions } from './shed-by-priority';
export { keyHash } from './key-hash';
