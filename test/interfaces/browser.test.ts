// The codec layer runs in a browser: the built bundle (dist/browser/kimage.js)
// is loaded in Debian's Chromium (driven by playwright-core) from a local
// HTTP server, and decodes a real zstd kernel payload and a gzip payload
// there; the SHA-256 computed in the page equals the native tools' output.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveTool, readBytes, requireReal } from "../support/real.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = haveTool(CHROMIUM, ["--version"]);
const kernels = requireReal("trixie amd64 kernel (zstd payload)", (f) => f.suite === "trixie" && f.arch === "amd64" && f.kind === "kernel");

/** The compressed payload of a bzImage (without its 4-byte size trailer) and the size it states. */
function bzPayload(path: string): { payload: Uint8Array; size: number } {
  const b = readBytes(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const setupSects = b[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + dv.getUint32(0x248, true);
  const len = dv.getUint32(0x24c, true);
  return { payload: b.subarray(start, start + len - 4), size: dv.getUint32(start + len - 4, true) };
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.skipIf(!haveChromium || kernels.length === 0)("codecs in Chromium", () => {
  let server: Server;
  let base = "";
  const files = new Map<string, { body: Uint8Array; type: string }>();
  const want: Record<string, { sha: string; size: number }> = {};

  beforeAll(async () => {
    const k = kernels[0];
    if (!k) return;
    const zst = bzPayload(k.abs);
    const native = execFileSync("zstd", ["-dc"], { input: zst.payload, maxBuffer: 256 << 20 });
    want.zstd = { sha: sha(native), size: zst.size };
    // A gzip payload as the kernel build makes one (gzip -n -9), of 8 MiB of the vmlinux, with a size trailer after it.
    const slice = native.subarray(0, 8 << 20);
    const gz = execFileSync("gzip", ["-n", "-9", "-c"], { input: slice, maxBuffer: 64 << 20 });
    want.gzip = { sha: sha(slice), size: slice.length };
    const trailer = new Uint8Array(4);
    new DataView(trailer.buffer).setUint32(0, slice.length, true);
    files.set("/kimage.js", { body: readFileSync("dist/browser/kimage.js"), type: "text/javascript" });
    files.set("/index.html", { body: new TextEncoder().encode("<!doctype html><title>kimage</title>"), type: "text/html" });
    files.set("/zstd.bin", { body: zst.payload, type: "application/octet-stream" });
    files.set("/gzip.bin", { body: Buffer.concat([gz, trailer]), type: "application/octet-stream" });
    server = createServer((req, res) => {
      const f = files.get(req.url ?? "");
      if (!f) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": f.type }).end(f.body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server?.close());

  it("decodes a real zstd kernel payload and a gzip payload in the page", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/index.html`);
      // The page's code is a string: the test runner must not rewrite its dynamic import().
      const sizes = JSON.stringify({ zstd: want.zstd?.size, gzip: want.gzip?.size });
      const got = (await page.evaluate(`(async (sizes) => {
        const k = await import("/kimage.js");
        const hex = async (b) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].map((x) => x.toString(16).padStart(2, "0")).join("");
        const out = {};
        for (const codec of ["zstd", "gzip"]) {
          const input = new Uint8Array(await (await fetch("/" + codec + ".bin")).arrayBuffer());
          const r = await k.decompress(input, codec, { expectedSize: sizes[codec] });
          out[codec] = { sha: await hex(r.bytes), size: r.bytes.length, consumed: r.consumed, checked: r.checked, node: typeof globalThis.process !== "undefined" };
        }
        return out;
      })(${sizes})`)) as Record<string, { sha: string; size: number; consumed: number; checked: string[]; node: boolean }>;
      for (const codec of ["zstd", "gzip"]) {
        expect(got[codec]?.node, "running in a browser, not Node").toBe(false);
        expect(got[codec]?.sha, codec).toBe(want[codec]?.sha);
        expect(got[codec]?.size).toBe(want[codec]?.size);
      }
      // gzip: the stream ends before the 4-byte size trailer.
      expect(got.gzip?.consumed).toBe((files.get("/gzip.bin")?.body.length ?? 0) - 4);
      expect(got.gzip?.checked).toContain("crc32");
    } finally {
      await browser.close();
    }
  });
});
