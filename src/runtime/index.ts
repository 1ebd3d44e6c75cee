/**
 * What emitted model code imports (`unetc/runtime`): parameters, layers, blocks, embeddings,
 * LoRA conditioning and backend selection.
 */
export * as tf from '@tensorflow/tfjs-core';
export * from './params.ts';
export * from './layers.ts';
export * from './embedding.ts';
export * from './lora.ts';
export * from './blocks.ts';
export { selectBackend } from './backend/select.ts';
export { heartbeat } from './backend/wasmThreads.ts';
export { trainRun, TrainingError, batchCond, type ModelModule, type TrainOptions, type TrainResult } from './train/loop.ts';
export { sampleRun, SampleError, type SampleOptions, type Sweep } from './train/sample.ts';
export { latestCheckpoint, listCheckpoints, readCheckpoint } from './train/checkpoint.ts';
export { loadDataset, DataError, type Dataset } from './data/index.ts';
