/**
 * Node adapters: file reading and node:crypto hashing. Import from
 * `kimage/node`; the core (`kimage`) stays browser-safe.
 *
 * @module
 */

import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";

export { nodeHashProvider } from "./hash.js";

/** Reads a whole file as a `Uint8Array` (a view of the Buffer, no copy). */
export async function readImage(path: string): Promise<Uint8Array> {
  const b = await readFile(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
/** Options of {@link readImageStream}. */
export interface ReadImageStreamOptions {
  /** Bytes per chunk (default 1 MiB). */
  chunkSize?: number;
}

/**
 * Streams a file from disk as chunks (each a fresh `Uint8Array` the caller
 * owns), for callers that feed a streaming decoder (`decodeStream`) and
 * never want the whole file in memory. Stopping the iteration early closes
 * the file.
 */
export async function* readImageStream(path: string, options: ReadImageStreamOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const chunkSize = Math.max(1, options.chunkSize ?? 1 << 20);
  const stream = createReadStream(path, { highWaterMark: chunkSize });
  try {
    for await (const b of stream as AsyncIterable<Buffer>) yield new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } finally {
    stream.destroy();
  }
}
export { nodeInflater } from "./zlib.js";
export { nodeCodecProviders } from "./codecs.js";
