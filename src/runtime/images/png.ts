/**
 * PNG encoding of 8-bit gray or RGB pixel buffers, and atomic PNG writes (a viewer or a
 * training dashboard polling samples.png never sees a half-written file).
 */
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../io/atomicWrite.ts';

/** `pixels` is height*width*channels bytes, row-major; channels 1 gives a grayscale PNG, 3 an RGB one. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Buffer {
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`encodePng: ${pixels.length} bytes for ${width}x${height}x${channels}`);
  }
  const colorType = channels === 1 ? 0 : 2;
  // pngjs packs from png.data; with input and output colour types equal it passes the bytes
  // through, so no RGBA expansion is needed. Only width/height/data of the PNG object are read.
  const image = { width, height, data: Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength) } as PNG;
  return PNG.sync.write(image, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
}

export function writePngAtomic(path: string, png: Uint8Array): void {
  writeFileAtomic(path, png);
}
