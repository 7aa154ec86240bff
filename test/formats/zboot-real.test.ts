/**
 * EFI zboot images built from a real Debian arm64 Image with each of the
 * seven codecs (native compressors, Makefile.zboot's recipe; see
 * test/support/zboot-builder.ts) unwrap to the original bytes through
 * `inspect`. gzip wraps the whole *signed* Image padded to image_size (as
 * cmd_copy_and_pad does), which exercises the cut at the end of its
 * certificate table and the full pe → zboot → gzip → pe → arm64-image chain;
 * the other codecs wrap the first 4 MiB to keep the test time down (on a
 * loaded 2-core machine `xz`/`lzma -9`/`zstd -22` of 8 MiB took 15-25 s).
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { arm64ImageFormat } from "../../src/formats/arm64/image.js";
import { compressedFormats, inspect } from "../../src/inspect/registry.js";
import type { FormatModule } from "../../src/format/types.js";
import { peFormat } from "../../src/formats/pe/format.js";
import { zbootFormat } from "../../src/formats/zboot/format.js";
import { haveTool, readBytes, requireReal } from "../support/real.js";
import { ZBOOT_CODECS, ZBOOT_METHODS, zbootFromImage, type BuiltZboot, type ZbootCodec } from "../support/zboot-builder.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const SLICE = 4 * 1024 * 1024;
/** The FORMATS order proposed for src/inspect/registry.ts. */
const TABLE: FormatModule[] = [peFormat, zbootFormat, arm64ImageFormat, ...compressedFormats];
/** For 8 MiB slices (whose inner PE section table points past the slice): arm64-image before pe. */
const SLICE_TABLE: FormatModule[] = [arm64ImageFormat, peFormat, zbootFormat, ...compressedFormats];

const unsigned = requireReal("Debian arm64 unsigned kernel", (f) => f.kind === "kernel" && f.arch === "arm64" && /^linux-image-.*-arm64-unsigned$/.test(f.package)).sort((a, b) => a.path.localeCompare(b.path));
const src = unsigned[0];
const signed = src ? requireReal("Debian arm64 signed kernel", (f) => f.kind === "kernel" && f.arch === "arm64" && f.suite === src.suite && f.signedPackage && !/16k/.test(f.package))[0] : undefined;
const tools = src !== undefined && ZBOOT_CODECS.every((c) => haveTool(ZBOOT_METHODS[c].cmd[0] as string, ["--help"]));

type Case = { codec: ZbootCodec; whole: boolean; source: Uint8Array; built: BuiltZboot & { input: Uint8Array }; ms: number };

describe.skipIf(!tools)(`zboot images built from ${src?.path ?? "(none)"}`, () => {
  const cases = new Map<ZbootCodec, Case>();

  beforeAll(async () => {
    const image = readBytes(src!.abs);
    const signedImage = signed ? readBytes(signed.abs) : null;
    const slice = image.slice(0, SLICE);
    const plan: [ZbootCodec, boolean, Uint8Array][] = ZBOOT_CODECS.map((c) => {
      if (c === "gzip") return [c, true, signedImage ?? image];
      return [c, false, slice];
    });
    // Two at a time: the machine has two cores.
    const queue = [...plan];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [codec, whole, source] = next;
        const t = Date.now();
        const built = await zbootFromImage(source, codec, { pad: whole });
        cases.set(codec, { codec, whole, source, built, ms: Date.now() - t });
      }
    };
    await Promise.all([worker(), worker()]);
  }, 600_000);

  for (const codec of ZBOOT_CODECS) {
    it(`${codec}: pe → zboot → ${codec} → … unwraps byte-exact`, async () => {
      const c = cases.get(codec)!;
      const t = Date.now();
      const { layers } = await inspect(c.built.bytes, { formats: c.whole ? TABLE : SLICE_TABLE });
      const ms = Date.now() - t;
      expect(layers.map((l) => l.format)).toEqual(c.whole ? ["pe", "zboot", codec, "pe", "arm64-image"] : ["pe", "zboot", codec, "arm64-image"]);
      const z = layers[1]!;
      expect(z.fields.compress_type).toBe(ZBOOT_METHODS[codec].compType);
      expect(z.fields.payload_offset).toBe(c.built.payloadOffset);
      expect(z.fields.payload_size).toBe(c.built.payloadSize);
      expect(z.fields.size_len).toBe(codec === "gzip" ? 0 : 4);
      expect((z.fields.sizeTrailer as { value: number }).value).toBe(c.built.input.length);
      const codecLayer = layers[2]!;
      expect(codecLayer.fields.size).toBe(c.built.input.length);
      expect(codecLayer.fields.compressedSize).toBe(c.built.payloadSize);
      expect(codecLayer.fields.trailingBytes).toBe(0);
      const innermost = layers[layers.length - 1]!;
      const out = codecLayer.payload!.bytes;
      expect(layers[3]!.size).toBe(out.length);
      if (!c.whole) {
        expect(sha(out)).toBe(sha(c.source));
      } else if (signed) {
        // The signed Image padded by copy_and_pad, then cut back at the end of its certificate table.
        expect(codecLayer.fields.cut).toMatchObject({ at: c.source.length, dropped: c.built.input.length - c.source.length });
        expect(sha(out)).toBe(sha(c.source));
        expect(layers[3]!.fields.certificates).toHaveLength(1);
      } else {
        // copy_and_pad: the Image, then zeros up to image_size.
        expect(sha(out.subarray(0, c.source.length))).toBe(sha(c.source));
        expect(out.subarray(c.source.length).every((x) => x === 0)).toBe(true);
        expect(codecLayer.fields.cut).toBeUndefined();
      }
      expect(innermost.format).toBe("arm64-image");
      expect(innermost.fields.flags).toBe("0xa");
      console.log(`${codec}: ${c.whole ? (signed ? "whole signed" : "whole") : "4 MiB"} ${c.built.input.length} B -> ${c.built.payloadSize} B (build ${c.ms} ms, inspect ${ms} ms, checked ${JSON.stringify(codecLayer.fields.checked)})`);
    });
  }
});
