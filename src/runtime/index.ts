/**
 * What emitted model code imports (`unetc/runtime`): parameters, layers, blocks, embeddings,
 * LoRA conditioning and backend selection.
 */
export * from './params.ts';
export * from './layers.ts';
export * from './embedding.ts';
export * from './lora.ts';
export * from './blocks.ts';
export { selectBackend } from './backend/select.ts';
