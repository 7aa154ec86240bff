#!/usr/bin/env node
// Behaviour-preservation check for refactors: runs the CLI's JSON commands on
// every real file of fixtures/real/manifest.json and records their stdout,
// stderr and exit status, one file per (input, command). Two recordings made
// before and after a change must be byte-identical.
//
//   node scripts/compare-outputs.mjs record DIR [--cli PATH]   (default dist/cli.js)
//   node scripts/compare-outputs.mjs diff DIR_A DIR_B
//   node scripts/compare-outputs.mjs both BEFORE_CLI [AFTER_CLI]   (records both into a temp dir and diffs)
//
// Commands recorded per file:
//   every kernel/efi file:    inspect --json; inspect --json --full (kernels)
//   every PE:                 digest --json (sha256, sha1); verify --json against the Debian CA
//                             (from shim's .vendor_cert) and against the Microsoft UEFI CAs,
//                             in kernel mode and in mode all
//   arm64/riscv64/amd64 kernels: plan --json (normal, and crash for arm64/riscv64/x86_64),
//                             with QEMU virt's DTB (arm64, riscv64) or a fixed e820 map (x86_64)
// Exit status: 0 when identical (diff/both), 1 on a difference, 2 on usage errors.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const REAL = join(ROOT, "fixtures/real");

function usage(msg) {
  if (msg) console.error(`compare-outputs: ${msg}`);
  console.error("usage: compare-outputs.mjs record DIR [--cli PATH] | diff DIR_A DIR_B | both BEFORE_CLI [AFTER_CLI]");
  process.exit(2);
}

function manifest() {
  const p = join(REAL, "manifest.json");
  if (!existsSync(p)) usage("no fixtures/real/manifest.json: run npm run fixtures");
  return JSON.parse(readFileSync(p, "utf8")).map((e) => ({ ...e, abs: join(REAL, e.path) })).filter((e) => existsSync(e.abs));
}

function isPe(path) {
  const b = readFileSync(path);
  if (b.length < 0x40 || b[0] !== 0x4d || b[1] !== 0x5a) return false;
  const off = b.readUInt32LE(0x3c);
  return off + 4 <= b.length && b.readUInt32BE(off) === 0x50450000;
}

/** Inputs shared by every recording: certificates and first-kernel DTBs, made once. */
function prepareInputs(cli, work) {
  const m = manifest();
  const inputs = { ms: m.filter((e) => e.kind === "cert" && /UEFICA20(11|23)|UEFI CA|UEFICA/i.test(e.path)).map((e) => e.abs) };
  // The Debian CA: shim's .vendor_cert, extracted with the library of the CLI's dist.
  const shim = m.find((e) => e.kind === "efi" && /shim-unsigned/.test(e.package) && /shimx64\.efi$/.test(e.path)) ?? m.find((e) => e.kind === "efi" && /shimx64\.efi/.test(e.path));
  if (shim) {
    const lib = join(cli, "..", "index.js");
    const r = spawnSync("node", ["--input-type=module", "-e", `
      import { readFileSync, writeFileSync } from "node:fs";
      const k = await import(${JSON.stringify(lib)});
      const vc = k.parseShimVendorCert(new Uint8Array(readFileSync(${JSON.stringify(shim.abs)})));
      const der = vc.certificates[0];
      const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\\n");
      writeFileSync(${JSON.stringify(join(work, "debian-ca.pem"))}, "-----BEGIN CERTIFICATE-----\\n" + b64 + "\\n-----END CERTIFICATE-----\\n");
    `], { encoding: "utf8" });
    if (r.status === 0) inputs.debian = join(work, "debian-ca.pem");
    else console.error(`compare-outputs: no Debian CA: ${r.stderr}`);
  }
  for (const [arch, bin, extra] of [["arm64", "qemu-system-aarch64", ["-cpu", "max"]], ["riscv64", "qemu-system-riscv64", []]]) {
    const out = join(work, `${arch}.dtb`);
    const r = spawnSync(bin, ["-M", `virt,dumpdtb=${out}`, ...extra, "-m", "1024", "-nographic"], { encoding: "utf8" });
    if (r.status === 0 && existsSync(out)) inputs[`${arch}Dtb`] = out;
    else console.error(`compare-outputs: no ${arch} DTB (${bin}): ${r.stderr || r.error}`);
  }
  writeFileSync(join(work, "initrd.img"), "kimage compare initrd\n");
  inputs.initrd = join(work, "initrd.img");
  return inputs;
}

/** The command lines to record: [name, argv]. */
function commands(inputs) {
  const list = [];
  for (const f of manifest()) {
    if (f.kind !== "kernel" && f.kind !== "efi") continue;
    const id = f.path.replace(/[^A-Za-z0-9.+-]+/g, "_");
    list.push([`${id}.inspect`, ["inspect", "--json", f.abs]]);
    if (f.kind === "kernel") list.push([`${id}.inspect-full`, ["inspect", "--json", "--full", f.abs]]);
    if (isPe(f.abs)) {
      list.push([`${id}.digest-sha256`, ["digest", "--json", f.abs]]);
      list.push([`${id}.digest-sha1`, ["digest", "--json", "--alg", "sha1", f.abs]]);
      for (const [name, certs] of [["debian", inputs.debian ? [inputs.debian] : []], ["ms", inputs.ms]]) {
        if (certs.length === 0) continue;
        const c = certs.flatMap((p) => ["--cert", p]);
        list.push([`${id}.verify-${name}-kernel`, ["verify", "--json", "--mode", "kernel", ...c, f.abs]]);
        list.push([`${id}.verify-${name}-all`, ["verify", "--json", "--mode", "all", ...c, f.abs]]);
      }
    }
    if (f.kind !== "kernel") continue;
    const common = ["--kernel", f.abs, "--initrd", inputs.initrd, "--cmdline", "console=ttyS0 kimage-compare", "--json"];
    if (f.arch === "arm64" && inputs.arm64Dtb) {
      const a = ["plan", "--arch", "arm64", ...common, "--dtb", inputs.arm64Dtb, "--exclude", "0x40000000:2M"];
      list.push([`${id}.plan`, a]);
      list.push([`${id}.plan-seed`, [...a, "--seed", "7"]]);
      list.push([`${id}.plan-crash`, [...a, "--crash", "0x60000000:256M", "--vmcoreinfo", "0x41000000:4K", "--cpu-note", "0x41001000:0x1a8"]]);
    }
    if (f.arch === "riscv64" && inputs.riscv64Dtb) {
      const a = ["plan", "--arch", "riscv64", ...common, "--dtb", inputs.riscv64Dtb, "--exclude", "0x80000000:2M"];
      list.push([`${id}.plan`, a]);
      list.push([`${id}.plan-crash`, [...a, "--crash", "0xa0000000:256M", "--vmcoreinfo", "0x88000000:4K", "--cpu-note", "0x88001000:0x1a8"]]);
    }
    if (f.arch === "amd64") {
      const a = ["plan", "--arch", "x86_64", ...common, "--memory", "0x0:0x9fc00,0x100000:0x3ff00000"];
      list.push([`${id}.plan`, a]);
      list.push([`${id}.plan-seed`, [...a, "--seed", "7"]]);
      list.push([`${id}.plan-crash`, [...a, "--crash", "0x20000000:256M", "--vmcoreinfo", "0x1000000:4K", "--cpu-note", "0x1001000:0x1a8"]]);
    }
  }
  return list;
}

function record(dir, cli, inputs) {
  mkdirSync(dir, { recursive: true });
  const list = commands(inputs);
  let n = 0;
  for (const [name, argv] of list) {
    const r = spawnSync("node", [cli, ...argv], { encoding: "utf8", maxBuffer: 256 << 20 });
    // Paths of the inputs differ between recordings only if the inputs do: they are shared.
    writeFileSync(join(dir, name), `status ${r.status}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`);
    n++;
  }
  console.log(`recorded ${n} outputs with ${cli} into ${dir}`);
}

function diff(a, b) {
  const names = [...new Set([...readdirSync(a), ...readdirSync(b)])].filter((n) => !n.startsWith(".")).sort();
  let same = 0;
  const differ = [];
  for (const n of names) {
    const x = existsSync(join(a, n)) ? readFileSync(join(a, n)) : null;
    const y = existsSync(join(b, n)) ? readFileSync(join(b, n)) : null;
    if (x && y && x.equals(y)) same++;
    else differ.push(n);
  }
  for (const n of differ) console.log(`DIFFERS: ${n}`);
  console.log(`${same} identical, ${differ.length} different (of ${names.length} outputs)`);
  return differ.length === 0;
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === "record") {
  const dir = rest[0];
  if (!dir) usage();
  const i = rest.indexOf("--cli");
  const cli = resolve(i >= 0 ? rest[i + 1] : join(ROOT, "dist/cli.js"));
  const work = join(dir, ".inputs");
  mkdirSync(work, { recursive: true });
  record(dir, cli, prepareInputs(cli, work));
} else if (cmd === "diff") {
  if (rest.length !== 2) usage();
  process.exit(diff(rest[0], rest[1]) ? 0 : 1);
} else if (cmd === "both") {
  const before = rest[0] && resolve(rest[0]);
  const after = resolve(rest[1] ?? join(ROOT, "dist/cli.js"));
  if (!before) usage();
  const t = mkdtempSync(join(tmpdir(), "kimage-compare-"));
  const inputs = prepareInputs(before, t);
  record(join(t, "before"), before, inputs);
  record(join(t, "after"), after, inputs);
  process.exit(diff(join(t, "before"), join(t, "after")) ? 0 : 1);
} else usage(cmd ? `unknown command ${cmd}` : undefined);
