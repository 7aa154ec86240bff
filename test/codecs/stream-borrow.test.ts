// StreamDecodeOptions.borrow: the sink is lent views of the decoder's own
// buffers instead of given fresh arrays. For every codec, on data the native
// tool compressed (xz also with its x86 BCJ and Delta filters, whose stream
// filters must never write into the LZMA dictionary they are lent), a
// borrowing sink that copies each chunk at once sees byte for byte the
// one-shot output, at random and tiny chunk sizes; and the views it is lent
// share a few buffers instead of one new array per chunk.
import { describe, expect, it } from "vitest";
import { decompressSync } from "../../src/codecs/index.js";
import { createStreamDecoder } from "../../src/codecs/stream.js";
import type { Codec } from "../../src/codecs/types.js";
import { chunked, concat, generated, sha, tool } from "../support/codec.js";

const DATA = generated(3 * 1024 * 1024 + 4321, 7);

const CASES: [string, Codec, () => Uint8Array][] = [
  ["gzip -9", "gzip", () => tool("gzip", ["-c", "-9"], DATA)],
  ["bzip2 -9", "bzip2", () => tool("bzip2", ["-c", "-9"], DATA)],
  ["zstd -19", "zstd", () => tool("zstd", ["-c", "-q", "-19"], DATA)],
  ["lz4 -l (the kernel's legacy frame)", "lz4", () => tool("lz4", ["-c", "-l", "-9"], DATA)],
  ["lzop -9", "lzo", () => tool("lzop", ["-c", "-9"], DATA)],
  ["lzma -9", "lzma", () => tool("xz", ["-c", "--format=lzma", "-9"], DATA)],
  ["xz --x86 (the kernel's)", "xz", () => tool("xz", ["-c", "-T1", "--check=crc32", "--x86", "--lzma2=preset=6,dict=1MiB"], DATA)],
  ["xz --delta --x86", "xz", () => tool("xz", ["-c", "-T1", "--check=crc64", "--delta=dist=4", "--x86", "--lzma2=preset=1", "--block-size=300KiB"], DATA)],
];

describe("streaming decoders lend views to a borrowing sink", () => {
  for (const [label, codec, make] of CASES) {
    it(`${label}: borrowed chunks, copied at once, equal the one-shot output`, () => {
      const comp = make();
      const want = sha(decompressSync(comp, codec).bytes);
      for (const sizes of [comp.length, 65_536, { max: 20_000, seed: 3 }, { max: 7, seed: 5 }]) {
        if (typeof sizes === "object" && sizes.max < 100 && comp.length > 400_000) continue;
        const parts: Uint8Array[] = [];
        const buffers = new Set<ArrayBufferLike>();
        let calls = 0;
        const dec = createStreamDecoder(codec, (c) => {
          calls++;
          buffers.add(c.buffer);
          parts.push(c.slice());
        }, { borrow: true, chunkSize: 64 * 1024 });
        for (const piece of chunked(comp, sizes)) {
          if (dec.complete) break;
          dec.write(piece);
        }
        dec.end();
        expect(sha(concat(...parts)), JSON.stringify(sizes)).toBe(want);
        // Views of a few buffers (the window as it grows, a filter's own), not one array per chunk.
        expect(calls).toBeGreaterThan(20);
        expect(buffers.size, `${calls} chunks`).toBeLessThan(calls / 2);
      }
    });
  }

  it("without borrow a sink owns every chunk: the decoder never writes to one again", () => {
    const comp = tool("xz", ["-c", "-T1", "--x86", "--lzma2=preset=1,dict=64KiB"], DATA);
    const kept: Uint8Array[] = [];
    const dec = createStreamDecoder("xz", (c) => kept.push(c), { chunkSize: 16 * 1024 });
    dec.write(comp);
    dec.end();
    expect(sha(concat(...kept))).toBe(sha(DATA));
  });
});
