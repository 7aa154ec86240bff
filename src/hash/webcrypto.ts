/**
 * WebCrypto hashing. `crypto.subtle.digest` has no incremental API, so more
 * than one part is concatenated into one buffer first (one copy).
 *
 * @module
 */

import type { HashAlgorithm, HashProvider } from "./types.js";

const NAMES: Record<HashAlgorithm, string> = {
  sha1: "SHA-1",
  sha256: "SHA-256",
  sha384: "SHA-384",
  sha512: "SHA-512",
};

/**
 * Minimal structural type of `SubtleCrypto.digest`, so no DOM lib is needed by
 * callers; `globalThis.crypto.subtle` satisfies it (WebCrypto takes views of an
 * `ArrayBuffer`, hence `Uint8Array<ArrayBuffer>`).
 */
export interface SubtleDigest {
  digest(algorithm: string, data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
}

/** A {@link HashProvider} over a given `SubtleCrypto` (e.g. `globalThis.crypto.subtle`). */
export function webCryptoHashProvider(subtle: SubtleDigest): HashProvider {
  return {
    name: "webcrypto",
    async digest(alg: HashAlgorithm, parts: readonly Uint8Array[]): Promise<Uint8Array> {
      let data: Uint8Array;
      if (parts.length === 1 && parts[0] !== undefined) {
        data = parts[0];
      } else {
        let total = 0;
        for (const p of parts) total += p.length;
        data = new Uint8Array(total);
        let at = 0;
        for (const p of parts) {
          data.set(p, at);
          at += p.length;
        }
      }
      // The caller's view goes to WebCrypto as before; the cast only states the type its signature wants.
      return new Uint8Array(await subtle.digest(NAMES[alg], data as Uint8Array<ArrayBuffer>));
    },
  };
}
