// The web page (dist/web/, built by `npm run build`) in Debian's Chromium,
// driven by playwright-core, opened from file:// (the hardest host: no
// module scripts, no module workers, an opaque origin), on real files: a
// signed amd64 bzImage, the arm64 Image, the loong64 zboot and a
// Microsoft-signed shim. What the page shows equals the CLI's JSON for the
// same file (inspect --json, digest, verify --json with the same anchors,
// plan --json and plan --out's plan.json); the built-in anchors are the
// certificates of the Debian packages they claim; a click is handled within
// 200 ms while the worker decodes the 55 MiB vmlinux; no request leaves the
// page after load; screenshots at 1280 and 390 px go to test-results/web/.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveTool, readBytes, requireReal, type RealFixture } from "../support/real.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = haveTool(CHROMIUM, ["--version"]);
const PAGE = resolve("dist/web/index.html");
const OUT = resolve("test-results/web");

const amd64 = requireReal("signed amd64 kernel", (f) => f.suite === "trixie" && f.arch === "amd64" && f.kind === "kernel" && f.signedPackage);
const arm64 = requireReal("signed arm64 Image", (f) => f.suite === "trixie" && f.arch === "arm64" && f.kind === "kernel" && f.signedPackage && !f.path.includes("16k"));
const loong = requireReal("loong64 zboot", (f) => f.arch === "loong64" && f.kind === "kernel");
const shim = requireReal("Microsoft-signed shim", (f) => f.suite === "trixie" && f.arch === "amd64" && f.package === "shim-signed");
const juno = requireReal("arm64 juno.dtb", (f) => f.suite === "trixie" && f.arch === "arm64" && f.kind === "dtb");
const certs = requireReal("Microsoft UEFI CA PEMs", (f) => f.package === "python3-virt-firmware");
const all = [amd64, arm64, loong, shim, juno];

function cli(args: string[]): string {
  const r = spawnSync("node", ["dist/cli.js", ...args], { encoding: "utf8", maxBuffer: 256 << 20 });
  // verify exits 1 for any verdict but valid; its JSON is still the answer.
  if (r.status !== 0 && !(args[0] === "verify" && r.status === 1)) throw new Error(`kimage ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** The built-in anchors as dist/web/anchors.js lists them. */
function builtinAnchors(): { name: string; subject: string; sha256: string; source: string; der: string }[] {
  const text = readFileSync("dist/web/anchors.js", "utf8");
  return JSON.parse(text.slice(text.indexOf("= ") + 2, text.lastIndexOf(";"))) as ReturnType<typeof builtinAnchors>;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.skipIf(!haveChromium || all.some((x) => x.length === 0))("the web page on real files", () => {
  let ctx: BrowserContext;
  let page: Page;
  let userDir = "";
  let anchorArgs: string[] = [];
  const afterLoad: string[] = [];
  let loaded = false;

  beforeAll(async () => {
    if (!existsSync(PAGE)) throw new Error("dist/web/index.html is missing: npm run build");
    mkdirSync(OUT, { recursive: true });
    const dir = mkdtempSync(join(tmpdir(), "kimage-anchors-"));
    anchorArgs = builtinAnchors().flatMap((a, i) => {
      const p = join(dir, `anchor-${i}.der`);
      writeFileSync(p, Buffer.from(a.der, "base64"));
      return ["--cert", p];
    });
    userDir = mkdtempSync(join(tmpdir(), "kimage-chromium-"));
    const { chromium } = await import("playwright-core");
    ctx = await chromium.launchPersistentContext(userDir, {
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    // The file:// page's requests (its worker's included); the HTTP test below uses a page of its own.
    page.on("request", (r) => {
      if (loaded) afterLoad.push(r.url());
    });
    await page.goto(pathToFileURL(PAGE).href, { waitUntil: "load" });
    loaded = true;
  }, 60_000);
  afterAll(async () => {
    await ctx?.close();
    if (userDir) rmSync(userDir, { recursive: true, force: true });
  });

  async function open(f: RealFixture, full = false): Promise<void> {
    await page.setChecked("#full", full);
    await page.setInputFiles("input[type=file] >> nth=0", f.abs);
    await page.waitForSelector("body[data-state=ready]", { timeout: 120_000 });
  }
  const text = async (id: string) => ((await page.textContent(`[data-testid=${id}]`)) ?? "").trim();
  const svgSegments = () => page.$$eval("[data-testid=plan-svg] svg [data-segment]", (els) => els.map((e) => [e.getAttribute("data-segment"), e.getAttribute("data-mem"), e.getAttribute("data-memsz")]));
  const plansDrawn = async () => Number(await page.getAttribute("body", "data-plans"));

  /** The identity line, the layers, the digest and the verdict equal the CLI's for `f`. */
  async function expectSameFacts(f: RealFixture): Promise<{ verdict: string }> {
    const inspect = JSON.parse(cli(["inspect", "--json", f.abs])) as { identity: { version: string | null; buildId: string | null }; layers: { format: string; summary: string }[] };
    const version = await text("version");
    if (inspect.identity.version) expect(version).toBe(inspect.identity.version);
    else expect(version).toMatch(/^\(/);
    expect(await text("build-id")).toBe(inspect.identity.buildId ?? "(not found)");
    expect(await text("layers")).toBe(inspect.layers.map((l) => l.format).join(" → "));
    const summaries = await page.$$eval("#tree > details[data-layer] > summary", (els) => els.map((e) => e.textContent ?? ""));
    expect(summaries.length).toBe(inspect.layers.length);
    inspect.layers.forEach((l, i) => {
      expect(summaries[i]).toContain(`] ${l.format} `);
      expect(summaries[i]?.endsWith(`: ${l.summary}`)).toBe(true);
    });
    if (inspect.layers[0]?.format === "pe") expect(await text("digest")).toBe(cli(["digest", f.abs]).trim());
    const verify = JSON.parse(cli(["verify", "--json", ...anchorArgs, f.abs])) as { verdict: string; signatures: { signer?: string }[] };
    expect(await text("verdict")).toBe(verify.verdict);
    expect(await page.$$eval("#signers tr[data-signature]", (rows) => rows.length)).toBeGreaterThanOrEqual(verify.signatures.length);
    return verify;
  }

  it("the built-in anchors are the Debian packages' certificates they name", () => {
    const anchors = builtinAnchors();
    expect(anchors.map((a) => a.name)).toEqual(["Debian Secure Boot CA (shim's vendor certificate)", "Microsoft Corporation UEFI CA 2011", "Microsoft UEFI CA 2023"]);
    // Debian's CA: the bytes sit inside shim-signed's binary (its .vendor_cert section).
    const shimBytes = Buffer.from(readBytes(shim[0]?.abs ?? ""));
    const debian = Buffer.from(anchors[0]?.der ?? "", "base64");
    expect(shimBytes.indexOf(debian)).toBeGreaterThan(0);
    expect(anchors[0]?.subject).toBe("CN=Debian Secure Boot CA");
    // Microsoft's: the PEM files python3-virt-firmware ships, byte for byte.
    for (const [a, file] of [
      [anchors[1], "MicrosoftCorporationUEFICA2011.pem"],
      [anchors[2], "MicrosoftUEFICA2023.pem"],
    ] as const) {
      const pem = readFileSync(certs.find((c) => c.path.endsWith(file))?.abs ?? "", "latin1");
      const b64 = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem)?.[1]?.replace(/\s+/g, "") ?? "";
      expect(a?.der).toBe(b64);
      expect(a?.sha256).toBe(sha(Buffer.from(b64, "base64")));
    }
  });

  it("signed amd64 bzImage: identity, layers, digest, verdict and plan equal the CLI's; plan.json and a layer download equal the CLI's files", async () => {
    const k = amd64[0] as RealFixture;
    await page.evaluate(() => {
      const w = window as unknown as { __cls: number };
      w.__cls = 0;
      new PerformanceObserver((l) => {
        for (const e of l.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean })[]) if (!e.hadRecentInput) w.__cls += e.value;
      }).observe({ type: "layout-shift", buffered: true });
    });
    await open(k);
    const cls = await page.evaluate(() => (window as unknown as { __cls: number }).__cls);
    console.log(`layout shift (CLS) while the results arrived: ${cls.toFixed(4)}`);
    expect(cls, "no layout shift when results arrive").toBeLessThan(0.01);
    const verify = await expectSameFacts(k);
    expect(verify.verdict).toBe("valid");
    expect(await text("arch")).toMatch(/^x86_64/);
    // The plan the page drew with its defaults, and the CLI's with the same inputs.
    const dir = mkdtempSync(join(tmpdir(), "kimage-web-plan-"));
    const plan = JSON.parse(cli(["plan", "--arch", "x86_64", "--kernel", k.abs, "--memory", "0x100000:0x7ff00000", "--seed", "1", "--json", "--out", dir])) as { segments: { name: string; mem: string; memsz: string }[]; entry: { pc: string } };
    expect(await svgSegments()).toEqual(plan.segments.map((s) => [s.name, s.mem, s.memsz]));
    expect(await page.getAttribute("[data-testid=plan-svg] svg [data-entry]", "data-entry")).toBe(plan.entry.pc);
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#plan-downloads button:text-is('plan.json')")]);
    const got = JSON.parse(readFileSync((await dl.path()) ?? "", "utf8")) as unknown;
    expect(got).toEqual(JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")));
    // A decoded layer's bytes (the vmlinux) equal `kimage extract --layer 3`.
    cli(["extract", "--layer", "3", "-o", join(dir, "vmlinux"), k.abs]);
    await page.click("#tree details[data-layer='3'] > summary");
    const [dl2] = await Promise.all([page.waitForEvent("download", { timeout: 120_000 }), page.click("#tree details[data-layer='3'] button:text-is('download layer 3')")]);
    expect(sha(readFileSync((await dl2.path()) ?? ""))).toBe(sha(readFileSync(join(dir, "vmlinux"))));
    // The hex view shows the file's first bytes (MZ).
    await page.click("#tree details[data-layer='0'] > summary");
    await page.click("#tree details[data-layer='0'] button:text-is('bytes')");
    await page.waitForFunction(() => /00000000 {2}4d 5a/.test(document.getElementById("hex")?.textContent ?? ""));
    // A field with an offset and a size (the PE certificate table) is highlighted in the hex view of the bytes it came from.
    const table = (JSON.parse(cli(["inspect", "--json", k.abs])) as { layers: { certificateTable: { offset: number; size: number } }[] }).layers[0]?.certificateTable;
    await page.click("#tree details[data-layer='0'] summary:text-is('certificateTable')");
    await page.click(`#tree details[data-layer='0'] button:text-is('bytes @0x${table?.offset.toString(16)} +0x${table?.size.toString(16)}')`);
    await page.waitForFunction((o) => document.getElementById("hex")?.dataset.start === o, `0x${table?.offset.toString(16)}`);
    const marked = await page.$$eval("#hex mark", (m) => m.length);
    expect(marked).toBeGreaterThan(0);
    // The log-scale toggle redraws the same segments on a log axis.
    const before = await plansDrawn();
    await page.check("#plan-log");
    await page.waitForFunction((n) => Number(document.body.dataset.plans) > n, before);
    expect(await page.getAttribute("[data-testid=plan-svg] svg", "data-scale")).toBe("log");
    expect(await svgSegments()).toEqual(plan.segments.map((s) => [s.name, s.mem, s.memsz]));
    await page.uncheck("#plan-log");
    // Screenshots: the README's (1280 px) and a phone's (390 px). Full-page screenshots hang in this Chromium; the viewport is made as tall as the page instead.
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      const height = await page.evaluate(() => document.documentElement.scrollHeight);
      await page.setViewportSize({ width, height: Math.min(height, 8000) });
      await page.screenshot({ path: join(OUT, `page-${width}.png`) });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `no horizontal scrolling at ${width} px`).toBeLessThanOrEqual(0);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 180_000);

  it("arm64 Image with Debian's juno.dtb dropped in: facts and plan equal the CLI's", async () => {
    const k = arm64[0] as RealFixture;
    await open(k);
    const verify = await expectSameFacts(k);
    expect(verify.verdict).toBe("valid");
    expect(await text("page-size")).toMatch(/^4K/);
    // Without a device tree the page plans against a minimal one holding the form's memory map.
    expect((await svgSegments()).map((x) => x[0])).toEqual(["kernel", "dtb"]);
    expect(await page.textContent("#error")).toBe("");
    const before = await plansDrawn();
    await page.setInputFiles("#plan-dtb", juno[0]?.abs ?? "");
    await page.waitForFunction((n) => Number(document.body.dataset.plans) > n, before);
    const plan = JSON.parse(cli(["plan", "--arch", "arm64", "--kernel", k.abs, "--dtb", juno[0]?.abs ?? "", "--seed", "1", "--json"])) as { segments: { name: string; mem: string; memsz: string }[]; entry: { pc: string } };
    expect(await svgSegments()).toEqual(plan.segments.map((s) => [s.name, s.mem, s.memsz]));
    expect(await page.getAttribute("[data-testid=plan-svg] svg [data-entry]", "data-entry")).toBe(plan.entry.pc);
    await page.setInputFiles("#plan-dtb", []);
  }, 120_000);

  it("loong64 zboot (sid): facts equal the CLI's; no plan is offered for an arch kimage does not plan", async () => {
    await open(loong[0] as RealFixture);
    await expectSameFacts(loong[0] as RealFixture);
    expect(await svgSegments()).toEqual([]);
    expect(await text("plan-svg")).toMatch(/^No plan/);
  }, 120_000);

  it("a truncated kernel: the page shows the CLI's error code and layer, and opens the next file normally", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kimage-web-bad-"));
    const bad = join(dir, "truncated.efi");
    // The first sections' worth of the signed kernel: its PE headers name sections past the end.
    writeFileSync(bad, readBytes(amd64[0]?.abs ?? "").subarray(0, 20000));
    const r = spawnSync("node", ["dist/cli.js", "inspect", bad], { encoding: "utf8" });
    const code = /kimage: ([a-z0-9-]+) \[([a-z0-9-]+) @ (0x[0-9a-f]+)\]/.exec(r.stderr);
    expect(code, r.stderr).not.toBeNull();
    await page.setInputFiles("input[type=file] >> nth=0", bad);
    await page.waitForSelector("body[data-state=failed]", { timeout: 60_000 });
    const shown = (await page.textContent("#error")) ?? "";
    expect(shown).toContain(`${code?.[1]}: `);
    expect(shown).toContain(`(layer ${code?.[2]} @${code?.[3]})`);
    expect(await text("version")).toBe("—");
  }, 60_000);

  it("Microsoft-signed shim: facts equal the CLI's, valid against the built-in Microsoft anchors; my anchors mode verifies against a dropped PEM", async () => {
    const f = shim[0] as RealFixture;
    await open(f);
    const verify = await expectSameFacts(f);
    expect(verify.verdict).toBe("valid");
    // Dropped anchors: the 2023 CA alone (PEM) still validates (shim rules: any valid signature).
    const pem = certs.find((c) => c.path.endsWith("MicrosoftUEFICA2023.pem"))?.abs ?? "";
    await page.setInputFiles("#anchor-files", pem);
    const want = (JSON.parse(cli(["verify", "--json", "--cert", pem, f.abs])) as { verdict: string }).verdict;
    await page.waitForFunction((w) => document.querySelector("[data-testid=verdict]")?.textContent === w && document.querySelector("input[name=anchors][value=mine]:checked") !== null, want);
    // Kernel rules (the first signature only, and a table of exactly one entry) refuse it, as the CLI does.
    await page.selectOption("#mode", "kernel");
    const kernelRules = (JSON.parse(cli(["verify", "--json", "--mode", "kernel", "--cert", pem, f.abs])) as { verdict: string }).verdict;
    await page.waitForFunction((w) => document.querySelector("[data-testid=verdict]")?.textContent === w, kernelRules);
    expect(kernelRules).not.toBe("valid");
    await page.selectOption("#mode", "auto");
    await page.check("input[name=anchors][value=builtin]");
  }, 120_000);

  it("stays responsive during a complete 55 MiB decode (a click is handled within 200 ms), and is at most 2x as slow as kimage inspect --full in Node", async () => {
    const k = amd64[0] as RealFixture;
    // Node: the CLI, start to end (process start included, as a user runs it).
    const t0 = performance.now();
    cli(["inspect", "--full", "--json", k.abs]);
    const nodeMs = performance.now() - t0;
    await page.setChecked("#full", true);
    await page.evaluate(() => {
      const w = window as unknown as { __lat: number[] };
      w.__lat = [];
      document.addEventListener("click", (e) => w.__lat.push(performance.now() - e.timeStamp), true);
    });
    await page.setInputFiles("input[type=file] >> nth=0", k.abs);
    // While the worker decodes, click another control (the built-in anchors' disclosure) a few times.
    const roundTrips: number[] = [];
    let clicksWhileBusy = 0;
    const phases: string[] = [];
    for (let i = 0; i < 6; i++) {
      const phase = (await page.textContent("#progress-text")) ?? "";
      const busy = (await page.getAttribute("body", "data-state")) === "loading";
      const c0 = performance.now();
      await page.click("#signature details > summary");
      roundTrips.push(performance.now() - c0);
      phases.push(`${busy ? "busy" : "idle"} ${phase}`);
      if (busy && /inspect|decode|identity/.test(phase)) clicksWhileBusy++;
      await page.waitForTimeout(150);
    }
    await page.waitForSelector("body[data-state=ready]", { timeout: 120_000 });
    const lat = await page.evaluate(() => (window as unknown as { __lat: number[] }).__lat);
    const pageMs = Number(await page.getAttribute("body", "data-inspect-ms"));
    console.log(`web page: complete decode of ${k.path.split("/").pop()} in ${pageMs.toFixed(0)} ms; kimage inspect --full in Node: ${nodeMs.toFixed(0)} ms; click latency in the page ${lat.map((x) => x.toFixed(0)).join(", ")} ms; Playwright click round trips ${roundTrips.map((x) => x.toFixed(0)).join(", ")} ms`);
    expect(clicksWhileBusy, `clicks landed while the worker decoded (${phases.join("; ")})`).toBeGreaterThan(0);
    expect(lat.length).toBe(6);
    for (const l of lat) expect(l).toBeLessThan(200);
    expect(await text("version")).toBe((JSON.parse(cli(["inspect", "--full", "--json", k.abs])) as { identity: { version: string } }).identity.version);
    expect(pageMs).toBeLessThanOrEqual(2 * nodeMs);
    await page.setChecked("#full", false);
  }, 240_000);

  it("npm run web serves the same page over HTTP and prints its URL", async () => {
    const server = spawn("node", ["scripts/serve-web.mjs"], { env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "inherit"] });
    try {
      const url = await new Promise<string>((ok, fail) => {
        let out = "";
        server.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
          if (m) ok(m[0]);
        });
        server.on("exit", (c) => fail(new Error(`serve-web exited ${c}`)));
      });
      const p2 = await ctx.newPage();
      try {
        await p2.goto(url);
        await p2.setInputFiles("input[type=file] >> nth=0", shim[0]?.abs ?? "");
        await p2.waitForSelector("body[data-state=ready]", { timeout: 60_000 });
        expect(await p2.textContent("[data-testid=layers]")).toBe("pe");
        expect(await p2.textContent("[data-testid=digest]")).toBe(cli(["digest", shim[0]?.abs ?? ""]).trim());
      } finally {
        await p2.close();
      }
    } finally {
      server.kill();
    }
  }, 120_000);

  it("every control is reachable with the keyboard, and the plan runs from it", async () => {
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const seen = new Set<string>();
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press("Tab");
      const id = await page.evaluate(() => document.activeElement?.id ?? "");
      if (id) seen.add(id);
    }
    for (const id of ["file", "full", "anchor-files", "mode", "verify", "plan-arch", "plan-memory", "plan-initrd", "plan-cmdline", "plan-seed", "plan-dtb", "plan-log", "plan-run"]) expect(seen, id).toContain(id);
    const before = await plansDrawn();
    await page.focus("#plan-seed");
    await page.keyboard.press("Enter");
    await page.waitForFunction((n) => Number(document.body.dataset.plans) > n, before);
  }, 60_000);

  it("made no network request after load (only in-memory blob: URLs for downloads)", () => {
    expect(loaded).toBe(true);
    expect(afterLoad.filter((u) => !u.startsWith("blob:"))).toEqual([]);
  });
});
