/**
 * node:crypto hashing: incremental, the fastest provider under Node.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { HashAlgorithm, HashProvider } from "../hash/types.js";

/** A {@link HashProvider} backed by node:crypto's incremental hashes. */
export const nodeHashProvider: HashProvider = {
  name: "node:crypto",
  digest(alg: HashAlgorithm, parts: readonly Uint8Array[]): Promise<Uint8Array> {
    const h = createHash(alg);
    for (const p of parts) h.update(p);
    const d = h.digest();
    return Promise.resolve(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  },
};
