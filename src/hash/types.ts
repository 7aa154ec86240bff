/**
 * The hashing seam: kimage never reaches for a global crypto object; callers
 * (or the defaults chosen by {@link defaultHashProvider}) pass a provider in.
 *
 * @module
 */

/** Digest algorithms kimage computes. */
export type HashAlgorithm = "sha1" | "sha256" | "sha384" | "sha512";

/** Every {@link HashAlgorithm}, in a stable order. */
export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ["sha1", "sha256", "sha384", "sha512"];

/** Digest length in bytes of each algorithm. */
export const HASH_LENGTH: Readonly<Record<HashAlgorithm, number>> = {
  sha1: 20,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/**
 * Computes a digest over the concatenation of `parts`, in order, without the
 * caller having to concatenate them. Implementations may hash incrementally
 * (node:crypto, pure JS) or concatenate first (WebCrypto, which has no
 * incremental API).
 */
export interface HashProvider {
  /** Short name for diagnostics, e.g. `"node:crypto"`. */
  readonly name: string;
  /** Digest of `parts` concatenated. */
  digest(alg: HashAlgorithm, parts: readonly Uint8Array[]): Promise<Uint8Array>;
}

/** True when `s` names a {@link HashAlgorithm}. */
export function isHashAlgorithm(s: string): s is HashAlgorithm {
  return (HASH_ALGORITHMS as readonly string[]).includes(s);
}
