/** Checkpoint I/O: safetensors encoding/decoding and crash-safe file writes. */
export * from './safetensors.ts';
export { writeFileAtomic } from './atomicWrite.ts';
