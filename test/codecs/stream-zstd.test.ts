/**
 * The streaming zstd decoder: byte-exact against zstd(1) and the one-shot
 * decoder at random chunk sizes and 1-byte chunks, on synthetic frames and
 * on every real zstd kernel payload in fixtures/real; the same errors as the
 * one-shot decoder; bounded memory on a bomb.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createStreamDecoder, decodeStream, decodeTransformStream, streamingCodecs } from "../../src/codecs/stream.js";
import { createZstdStreamDecoder, decompressZstd } from "../../src/codecs/zstd.js";
import type { StreamDecodeOptions } from "../../src/codecs/stream.js";
import { requireReal } from "../support/real.js";
import { assertStreamMatchesOneShot, chunkLabel, chunkings, concat, errorAt, generated, le32, sha, streamRun, time, tool } from "../support/codec.js";

const data = generated(1 << 20, 41);
const run = (input: Uint8Array, sizes: number | { max: number; seed: number }, options: StreamDecodeOptions = {}) =>
  streamRun((sink) => createZstdStreamDecoder(sink, options), input, sizes);
/** The error of a whole streaming decode, as `code@offset`. */
const streamError = (input: Uint8Array, sizes: number | { max: number; seed: number }, options: StreamDecodeOptions = {}): string =>
  errorAt(() => run(input, sizes, options), "zstd");

describe("zstd streaming: byte-exact against zstd(1)", () => {
  const variants: [string[], number][] = [
    [["-19"], 200_000],
    [["-22", "--ultra", "--long=27"], 200_000],
    [["-1"], 1 << 20],
    [["-3", "--no-check"], 1 << 20],
    [["-5", "--content-size"], 300_000],
    [["-3", "--no-content-size"], 300_000],
  ];
  for (const [args, size] of variants) {
    it(`zstd ${args.join(" ")}: every chunking, the le32 trailer left alone`, () => {
      const d = data.subarray(0, size);
      const z = tool("zstd", ["-q", "-c", ...args], d);
      const input = concat(z, le32(d.length));
      for (const sizes of chunkings(input, 60_000)) {
        const r = run(input, sizes);
        expect(sha(r.bytes), chunkLabel(sizes)).toBe(sha(d));
        expect(r.consumed).toBe(z.length);
        expect(r.produced).toBe(d.length);
        expect(r.complete).toBe(true);
        expect(r.checked).toEqual(args.includes("--no-check") ? [] : ["xxh64"]);
      }
    });
  }

  it("empty and tiny frames, 1-byte chunks", () => {
    for (const d of [new Uint8Array(0), Uint8Array.of(7), data.subarray(0, 100), new Uint8Array(200_000)]) {
      const z = tool("zstd", ["-q", "-c"], d);
      for (const sizes of [1, { max: 5, seed: 9 }]) {
        const r = run(z, sizes);
        expect(sha(r.bytes)).toBe(sha(d));
        expect(r.consumed).toBe(z.length);
      }
    }
  });

  it("skippable frames and concatenated frames with different windows (the window is replaced)", () => {
    // a small single-segment frame, then frames with larger windows (zstd -19 on 1 MiB: 1 MiB window)
    const a = tool("zstd", ["-q", "-c", "-1"], data.subarray(0, 5000));
    const b = tool("zstd", ["-q", "-c", "-19", "--no-check"], data.subarray(5000, 400_000));
    const c = tool("zstd", ["-q", "-c", "-3"], data);
    const skip = concat(le32(0x184d2a53), le32(3), Uint8Array.of(1, 2, 3));
    const empty = concat(le32(0x184d2a50), le32(0));
    const input = concat(skip, a, empty, b, skip, c, Uint8Array.of(9, 9, 9, 9, 9));
    const want = concat(data.subarray(0, 400_000), data);
    const one = decompressZstd(input);
    expect(sha(one.bytes)).toBe(sha(want));
    for (const sizes of chunkings(input, 0)) {
      const r = run(input, sizes);
      expect(sha(r.bytes), chunkLabel(sizes)).toBe(sha(want));
      expect(r.consumed).toBe(one.consumed);
      expect(r.consumed).toBe(input.length - 5);
    }
    // 1-byte chunks on the small frames
    const small = concat(skip, a, empty, skip, a, Uint8Array.of(1, 2));
    const r = run(small, 1);
    expect(sha(r.bytes)).toBe(sha(concat(data.subarray(0, 5000), data.subarray(0, 5000))));
    expect(r.consumed).toBe(small.length - 2);
  });

  it("a stream longer than its window: the window slides (matches reach up to 128 KiB back)", () => {
    // 3 MiB of data repeating 100 KB regions with changes, compressed with a 128 KiB window
    const base = generated(100_000, 5);
    const big = new Uint8Array(3 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (base[i % base.length] as number) ^ (i % 7919 === 0 ? 1 : 0);
    const z = tool("zstd", ["-q", "-c", "-9", "--zstd=wlog=17"], big);
    expect(z[5]).toBe((17 - 10) << 3); // Window_Descriptor: 128 KiB
    for (const sizes of [{ max: 1000, seed: 4 }, { max: 100_000, seed: 5 }]) {
      const chunks: number[] = [];
      const r = streamRun((sink) => createZstdStreamDecoder((c) => (chunks.push(c.length), sink(c)), { chunkSize: 1 << 16 }), z, sizes);
      expect(sha(r.bytes)).toBe(sha(big));
      expect(Math.max(...chunks)).toBeLessThanOrEqual(1 << 16);
    }
  });

  it("emits decoded chunks as it goes, each at most chunkSize", () => {
    const z = tool("zstd", ["-q", "-c", "-3"], data);
    const seen: number[] = [];
    const dec = createZstdStreamDecoder((c) => seen.push(c.length), { chunkSize: 4096 });
    dec.write(z.subarray(0, z.length >> 1));
    const early = seen.reduce((s, n) => s + n, 0);
    expect(early).toBeGreaterThan(data.length / 4);
    expect(dec.produced).toBeGreaterThanOrEqual(early);
    expect(dec.complete).toBe(false);
    dec.write(z.subarray(z.length >> 1));
    dec.end();
    expect(seen.reduce((s, n) => s + n, 0)).toBe(data.length);
    expect(Math.max(...seen)).toBeLessThanOrEqual(4096);
    expect(dec.complete).toBe(true);
    // input after the end is ignored, end() again is a no-op
    dec.write(Uint8Array.of(1, 2, 3));
    dec.end();
    expect(dec.consumed).toBe(z.length);
  });

  it("through createStreamDecoder, decodeStream (AsyncIterable) and decodeTransformStream (WHATWG)", async () => {
    expect(streamingCodecs()).toEqual(expect.arrayContaining(["zstd", "lz4", "lzo"]));
    const d = data.subarray(0, 300_000);
    const z = concat(tool("zstd", ["-q", "-c", "-7"], d), le32(d.length));
    const parts: Uint8Array[] = [];
    const dec = createStreamDecoder("zstd", (c) => parts.push(c));
    for (const c of [z.subarray(0, 1000), z.subarray(1000)]) dec.write(c);
    dec.end();
    expect(sha(concat(...parts))).toBe(sha(d));

    const it = decodeStream("zstd", (function* () {
      for (let at = 0; at < z.length; at += 777) yield z.subarray(at, at + 777);
    })(), { chunkSize: 1 << 14, expectedSize: d.length });
    const got: Uint8Array[] = [];
    let next = await it.next();
    while (!next.done) {
      got.push(next.value);
      next = await it.next();
    }
    expect(sha(concat(...got))).toBe(sha(d));
    expect(next.value).toEqual({ codec: "zstd", consumed: z.length - 4, produced: d.length, checked: ["xxh64"] });

    const stream = new Blob([z.slice()]).stream().pipeThrough(decodeTransformStream("zstd"));
    const out: Uint8Array[] = [];
    for await (const c of stream as unknown as AsyncIterable<Uint8Array>) out.push(c);
    expect(sha(concat(...out))).toBe(sha(d));
  });
});

/** Every zstd kernel payload in fixtures/real (with its le32 size trailer): frames with a window of 1 MiB or more that decode to more than 1 MiB. */
function realZstdPayloads(): { name: string; input: Uint8Array; size: number }[] {
  const found: { name: string; input: Uint8Array; size: number }[] = [];
  const seen = new Set<string>();
  for (const f of requireReal("zstd kernel payloads", (k) => k.kind === "kernel")) {
    const file = new Uint8Array(readFileSync(f.abs));
    const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
    for (let at = buf.indexOf(ZSTD_MAGIC_BYTES); at >= 0; at = buf.indexOf(ZSTD_MAGIC_BYTES, at + 1)) {
      const fhd = file[at + 4] as number;
      // no Single_Segment_Flag, no dictionary, Window_Log >= 20
      if (fhd & 0x23 || ((file[at + 5] as number) >>> 3) < 10) continue;
      let r;
      try {
        r = decompressZstd(file.subarray(at), { maxOutput: 512 << 20 });
      } catch {
        continue;
      }
      if (r.bytes.length < 1 << 20) continue;
      const key = sha(r.bytes);
      if (seen.has(key)) break; // signed and unsigned packages carry the same payload
      seen.add(key);
      found.push({ name: `${f.suite}/${f.arch} ${f.path.split("/").pop()} @${at}`, input: file.subarray(at, at + r.consumed + 4), size: r.bytes.length });
      break;
    }
  }
  return found;
}
const ZSTD_MAGIC_BYTES = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd);
const real = realZstdPayloads();

describe("zstd streaming: the real kernel payloads", () => {
  it.skipIf(real.length === 0)("finds the zstd payloads (trixie amd64, trixie s390x, sid loong64 at least)", () => {
    const names = real.map((p) => p.name).join("\n");
    expect(names).toMatch(/trixie\/amd64/);
    expect(names).toMatch(/trixie\/s390x/);
    expect(names).toMatch(/sid\/loong64/);
  });

  for (const [i, sizes] of [{ max: 1 << 16, seed: 11 }, { max: 1 << 20, seed: 12 }].entries()) {
    it.skipIf(real.length === 0)(`every payload at ${chunkLabel(sizes)}: sha256 equal to the one-shot result`, () => {
      for (const p of real) {
        const one = decompressZstd(p.input);
        // the second run states the size, as kimage does from the trailer (the window is then capped by it)
        const r = run(p.input, sizes, i === 1 ? { expectedSize: p.size } : {});
        expect(r.bytes.length, p.name).toBe(p.size);
        expect(sha(r.bytes), p.name).toBe(sha(one.bytes));
        expect(r.consumed).toBe(one.consumed);
        expect(r.consumed).toBe(p.input.length - 4);
        expect(r.checked).toEqual(["xxh64"]);
        expect(Math.max(...r.chunks)).toBeLessThanOrEqual(1 << 20);
      }
    });
  }
});

describe("zstd streaming: errors as the one-shot decoder reports them", () => {
  const small = tool("zstd", ["-q", "-c", "-9"], data.subarray(0, 300_000));

  it("truncation anywhere: `truncated` at the same offset, from end()", () => {
    for (let cut = 0; cut < small.length; cut += Math.max(1, Math.floor(small.length / 60))) {
      const b = small.subarray(0, cut);
      const want = errorAt(() => decompressZstd(b));
      expect(want).toMatch(/^truncated@/);
      for (const sizes of [1, { max: 3000, seed: cut }]) expect(streamError(b, sizes), `cut ${cut}`).toBe(want);
    }
    const parts: Uint8Array[] = [];
    const dec = createZstdStreamDecoder((c) => parts.push(c));
    dec.write(small.subarray(0, small.length - 1));
    expect(() => dec.end()).toThrow(/content checksum runs past the end/);
    // the error sticks
    expect(() => dec.end()).toThrow(/content checksum runs past the end/);
    expect(() => dec.write(Uint8Array.of(0))).toThrow(/content checksum runs past the end/);
  });

  it("header, checksum and size errors: same code and offset", () => {
    const f = (i: number, x: number): Uint8Array => {
      const b = small.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    };
    const cases: [Uint8Array, StreamDecodeOptions][] = [
      [f(0, 1), {}],
      [f(4, 8), {}],
      [f(4, 3), {}],
      [f(small.length - 2, 1), {}],
      [small, { expectedSize: 3 }],
      [small, { expectedSize: 300_001 }],
      [Uint8Array.of(1, 2), {}],
      [concat(le32(0x184d2a51), le32(10), Uint8Array.of(1)), {}],
    ];
    for (const [b, options] of cases) {
      const want = errorAt(() => decompressZstd(b, options));
      expect(want).not.toBe("ok");
      for (const sizes of [1, { max: 5000, seed: 3 }]) expect(streamError(b, sizes, options)).toBe(want);
    }
  });

  it("flips in the blocks: the same result as the one-shot decoder", () => {
    let errors = 0;
    for (let i = 6; i < small.length - 4; i += 97) {
      const b = small.slice();
      b[i] = (b[i] as number) ^ 0x21;
      const want = errorAt(() => decompressZstd(b));
      if (want !== "ok") errors++;
      expect(streamError(b, { max: 4000, seed: i }), `flip at ${i}`).toBe(want);
    }
    expect(errors).toBeGreaterThan(10);
  });

  it("maxOutput: `limit`, and no more than maxOutput bytes emitted", () => {
    const z = tool("zstd", ["-q", "-c", "-3"], data);
    for (const m of [1000, 131072, 500_000]) {
      let emitted = 0;
      const dec = createZstdStreamDecoder((c) => (emitted += c.length), { maxOutput: m });
      expect(errorAt(() => {
        for (const c of [z.subarray(0, 1234), z.subarray(1234)]) dec.write(c);
        dec.end();
      })).toMatch(/^limit@/);
      expect(emitted).toBeLessThanOrEqual(m);
    }
  });

  it("random flips, cuts, chunks and maxOutput: the same output or the same error as the one-shot decoder (fast-check)", () => {
    // a compressed frame with a content size, then one of raw blocks (noise)
    const noise = Uint8Array.from({ length: 20_000 }, (_, i) => (Math.imul(i, 2654435761) >>> 13) & 0xff);
    const sample = concat(tool("zstd", ["-q", "-c", "-9", "--content-size"], data.subarray(0, 30_000)), tool("zstd", ["-q", "-c", "-1"], noise));
    assertStreamMatchesOneShot((b, maxOutput) => decompressZstd(b, { maxOutput }), (b, sizes, maxOutput) => run(b, sizes, { maxOutput }), sample);
  });

  it("a 1 GB-of-zeros bomb: `limit` quickly, and decoded whole with bounded memory", () => {
    const bomb = tool("sh", ["-c", "head -c 1073741824 /dev/zero | zstd -q -1 -c"]);
    const [c, s] = time(() => streamError(bomb, { max: 1 << 16, seed: 1 }, { maxOutput: 16 << 20 }));
    expect(c).toMatch(/^limit@/);
    expect(s).toBeLessThan(5);
    let n = 0;
    let peak = 0;
    const before = process.memoryUsage().arrayBuffers;
    const dec = createZstdStreamDecoder((chunk) => {
      n += chunk.length;
      if ((n & ((16 << 20) - 1)) === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }, { maxOutput: 2 ** 32 });
    for (let at = 0; at < bomb.length; at += 65536) dec.write(bomb.subarray(at, at + 65536));
    dec.end();
    expect(n).toBe(2 ** 30);
    expect(dec.checked).toEqual(["xxh64"]);
    // the window (zstd -1: 512 KiB) plus a chunk, and chunks not yet collected: far below the output
    expect(peak).toBeLessThan(128 << 20);
  });
});
