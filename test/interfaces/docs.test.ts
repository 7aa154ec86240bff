// The examples the API docs show (examples/*.ts, included by docs/*.md) run:
// the ones that need no network, real kernel or key, on inputs built here.
// They import "kimage" and "kimage/node", which resolve to the build (npm test builds first).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { peDigest } from "../../examples/authenticode-digest.js";
import { countDecoded } from "../../examples/decode-stream.js";
import { roundTrip } from "../../examples/decompress.js";
import { fdtRoundTrip } from "../../examples/fdt.js";
import { describeKernel } from "../../examples/inspect.js";
import { digestOf } from "../../examples/plan-digest.js";
import { describePlan, planArm } from "../../examples/plan.js";
import { fakeArm64Image, firstKernelDtb } from "../support/plan-builders.js";

const M = 1n << 20n;
const minimalPe = (): Uint8Array => new Uint8Array(readFileSync(new URL("../../fixtures/synthetic/pe32plus-minimal.efi", import.meta.url)));

describe("the API docs' examples", () => {
  it("inspect: describes a PE's layer chain", async () => {
    expect(await describeKernel(minimalPe())).toMatch(/^pe/);
  });

  it("authenticode-digest: a sha256 digest", async () => {
    expect(await peDigest(minimalPe())).toMatch(/^[0-9a-f]{64} \(\d+ ranges hashed\)$/);
  });

  it("decompress: a gzip made with node:zlib", async () => {
    expect(await roundTrip("hello, kernel\n")).toBe("hello, kernel\n");
  });

  it("decode-stream: gzip in chunks", async () => {
    const text = "x".repeat(100_000);
    const gz = new Uint8Array(gzipSync(text));
    const chunks = [gz.subarray(0, 10), gz.subarray(10, 100), gz.subarray(100)];
    expect(await countDecoded("gzip", chunks)).toBe(text.length);
  });

  it("fdt: build, serialize, parse back", () => {
    expect(fdtRoundTrip().bootargs).toBe("console=ttyAMA0");
  });

  it("plan and plan-digest: an arm64 plan and its purgatory digest", async () => {
    const plan = await planArm(fakeArm64Image(24n * M), firstKernelDtb({ ram: { start: 0x4000_0000n, size: 512n * M } }));
    expect(describePlan(plan)).toMatch(/^arm64 normal plan/);
    expect(await digestOf(plan)).toMatch(/^[0-9a-f]{64}$/);
  });
});
