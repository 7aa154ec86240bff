/**
 * Minimal structural types for the WebCrypto objects kimage's public API
 * takes and returns (signing keys and the `SubtleCrypto` that signs), so that
 * the published declarations compile without the DOM library: a Node-only
 * project (`lib: ["es2022"]` + `@types/node`) and a browser project (`lib:
 * ["dom"]`) both type-check. A real `CryptoKey` / `SubtleCrypto` (the DOM's,
 * or `webcrypto` of node:crypto) satisfies them; nothing here exists at run
 * time.
 *
 * The hashing and verifying counterparts are {@link SubtleDigest}
 * (`./webcrypto.ts`) and `SubtleVerifier` (`../cms/x509.ts`).
 *
 * @module
 */

/** The parts of a WebCrypto `CryptoKey` kimage reads; a real `CryptoKey` satisfies it. */
export interface WebCryptoKey {
  /** `"public"`, `"private"` or `"secret"`. */
  readonly type: string;
  /** The key's algorithm: `name`, plus `hash` (RSA) or `namedCurve` (EC) in real keys. */
  readonly algorithm: { readonly name: string };
  /** What the key may be used for, e.g. `["sign"]`. */
  readonly usages: readonly string[];
  /** Whether the key material can be exported. */
  readonly extractable: boolean;
}

/**
 * The part of WebCrypto's `SubtleCrypto` kimage signs with (import a PKCS#8
 * private key or an SPKI public key, sign, verify). `globalThis.crypto.subtle`
 * satisfies it in Node and in browsers.
 */
export interface SubtleSigner {
  importKey(
    format: "pkcs8" | "spki",
    keyData: Uint8Array<ArrayBuffer>,
    algorithm: { name: string; hash?: string; namedCurve?: string },
    extractable: boolean,
    keyUsages: ("sign" | "verify")[],
  ): Promise<WebCryptoKey>;
  sign(algorithm: { name: string; hash?: string }, key: WebCryptoKey, data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
  verify(algorithm: { name: string; hash?: string }, key: WebCryptoKey, signature: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>): Promise<boolean>;
}
