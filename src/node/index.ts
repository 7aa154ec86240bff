/**
 * Node adapters: file reading and node:crypto hashing. Import from
 * `kimage/node`; the core (`kimage`) stays browser-safe.
 *
 * @module
 */

import { readFile } from "node:fs/promises";

export { nodeHashProvider } from "./hash.js";

/** Reads a whole file as a `Uint8Array` (a view of the Buffer, no copy). */
export async function readImage(path: string): Promise<Uint8Array> {
  const b = await readFile(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
export { nodeInflater } from "./zlib.js";
export { nodeCodecProviders } from "./codecs.js";
