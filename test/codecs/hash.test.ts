// The three hash providers agree with each other and with node:crypto on
// every algorithm, for multi-part input, and the default is chosen lazily.
import { createHash, webcrypto } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HASH_ALGORITHMS, HASH_LENGTH, defaultHashProvider, pureJsHashProvider, toHex, webCryptoHashProvider } from "../../src/internals.js";
import { nodeHashProvider } from "../../src/node/index.js";

const parts = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(1000).fill(0xa5), new Uint8Array([9])];
const whole = Buffer.concat(parts);

describe("hash providers", () => {
  const providers = [nodeHashProvider, pureJsHashProvider, webCryptoHashProvider(webcrypto.subtle as never)];
  for (const alg of HASH_ALGORITHMS) {
    it(`${alg}: node, pure-js and webcrypto agree with createHash over the concatenation`, async () => {
      const want = createHash(alg).update(whole).digest("hex");
      for (const p of providers) {
        const d = await p.digest(alg, parts);
        expect(d.length, p.name).toBe(HASH_LENGTH[alg]);
        expect(toHex(d), p.name).toBe(want);
      }
    });
  }
  it("defaultHashProvider uses WebCrypto when present and pure JS otherwise, read at call time", () => {
    expect(defaultHashProvider().name).toBe("webcrypto");
    const saved = Object.getOwnPropertyDescriptor(globalThis, "crypto");
    Object.defineProperty(globalThis, "crypto", { value: undefined, configurable: true });
    try {
      expect(defaultHashProvider().name).toBe("pure-js");
    } finally {
      if (saved) Object.defineProperty(globalThis, "crypto", saved);
    }
  });
});
