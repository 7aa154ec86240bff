/**
 * Pure-JS hashing (via @noble/hashes), for hosts with neither node:crypto nor
 * WebCrypto (e.g. plain-http browser origins, where `crypto.subtle` is
 * undefined). Incremental: no concatenation of the parts.
 *
 * @module
 */

import { sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import type { HashAlgorithm, HashProvider } from "./types.js";

const HASHES = { sha1, sha256, sha384, sha512 } as const;

/** A {@link HashProvider} written in pure JavaScript; works everywhere. */
export const pureJsHashProvider: HashProvider = {
  name: "pure-js",
  digest(alg: HashAlgorithm, parts: readonly Uint8Array[]): Promise<Uint8Array> {
    const h = HASHES[alg].create();
    for (const p of parts) h.update(p);
    return Promise.resolve(h.digest());
  },
};
