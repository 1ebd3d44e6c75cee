/**
 * What emitted model code imports (`unetc/runtime`): parameters, layers, blocks, embeddings,
 * LoRA conditioning and backend selection.
 */
export * as tf from '@tensorflow/tfjs-core';
export type * from '../ir/ops.ts';
export * from './model/params.ts';
export * from './model/layers.ts';
export * from './model/embedding.ts';
export * from './model/lora.ts';
export * from './model/blocks.ts';
export { selectBackend } from './engine/select.ts';
export { heartbeat } from './engine/wasmThreads.ts';
export { trainRun, TrainingError, batchCond, type ModelModule, type TrainOptions, type TrainResult } from './train/loop.ts';
export { sampleRun, SampleError, type SampleOptions, type Sweep } from './train/sample.ts';
export { latestCheckpoint, listCheckpoints, readCheckpoint, NonFiniteWeightsError } from './train/checkpoint.ts';
export { RunFolderError } from './train/runFolder.ts';
export { loadDataset, DataError, type Dataset } from './data/index.ts';
