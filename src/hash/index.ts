/**
 * Hash providers for the browser-safe core. The Node adapter
 * (`kimage/node`) adds a node:crypto provider.
 *
 * @module
 */

import { pureJsHashProvider } from "./purejs.js";
import type { HashProvider } from "./types.js";
import { webCryptoHashProvider, type SubtleDigest } from "./webcrypto.js";

export { pureJsHashProvider } from "./purejs.js";
export { webCryptoHashProvider, type SubtleDigest } from "./webcrypto.js";
export type { SubtleSigner, WebCryptoKey } from "./webcrypto-types.js";
export * from "./types.js";

/**
 * The provider used when the caller passes none: WebCrypto when
 * `globalThis.crypto.subtle` exists, pure JS otherwise. This reads the
 * global only when called, never at import time.
 */
export function defaultHashProvider(): HashProvider {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleDigest } }).crypto?.subtle;
  return subtle ? webCryptoHashProvider(subtle) : pureJsHashProvider;
}
