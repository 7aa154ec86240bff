// .pcrsig verification against .pcrpkey, with signatures made by
// systemd-measure sign (bookworm's systemd 252). 252 computes the PolicyPCR
// digest in a TPM trial session, so the test runs it against swtpm
// (Debian: swtpm, libtss2-esys-3.0.2-0, libtss2-tcti-swtpm0).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main, type CliIo } from "../../src/cli.js";
import { nodeHashProvider } from "../../src/node/hash.js";
import { PCR_PHASES, predictPcr11, type Pcr11Section } from "../../src/uki/pcr11.js";
import { parsePcrSig, pcrPolicyDigest, readPcrPublicKey, verifyPcrSig } from "../../src/uki/pcrsig.js";
import { buildPe, SCN_RDATA, SCN_TEXT } from "../support/pe-builder.js";
import { haveTool, readBytes, requireReal } from "../support/real.js";

const MEASURE = "/usr/lib/systemd/systemd-measure";
const dir = mkdtempSync(join(tmpdir(), "kimage-pcrsig-"));
const text = (s: string) => new TextEncoder().encode(s);
const kernels = requireReal("bookworm amd64 kernel", (f) => f.kind === "kernel" && f.arch === "amd64" && f.suite === "bookworm");
const ready = kernels.length > 0 && existsSync(MEASURE) && haveTool("swtpm", ["--version"]) && haveTool("openssl", ["version"]);

let tpm: ChildProcess | undefined;
let port = 0;
let sections: Pcr11Section[] = [];

function openssl(...args: string[]): void {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** systemd-measure sign over `sections` (written to files), the JSON it prints. */
function sign(privateKey: string, publicKey: string, banks = ["sha1", "sha256", "sha384", "sha512"]): Uint8Array {
  const args = ["sign", `--tpm2-device=swtpm:host=127.0.0.1,port=${port}`, `--private-key=${privateKey}`, `--public-key=${publicKey}`, "--json=short", ...banks.map((b) => `--bank=${b}`)];
  for (const [i, s] of sections.entries()) {
    const p = join(dir, `s${i}${s.name}`);
    writeFileSync(p, s.data);
    args.push(`--${s.name.slice(1)}=${p}`);
  }
  const r = spawnSync(MEASURE, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`systemd-measure ${args.join(" ")}: ${r.stderr}`);
  return text(r.stdout);
}

describe.skipIf(!ready)(".pcrsig against .pcrpkey, signed by systemd-measure sign", () => {
  beforeAll(async () => {
    openssl("genrsa", "-out", join(dir, "rsa.pem"), "2048");
    openssl("rsa", "-in", join(dir, "rsa.pem"), "-pubout", "-out", join(dir, "rsa.pub.pem"));
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(dir, "ec.pem"));
    openssl("ec", "-in", join(dir, "ec.pem"), "-pubout", "-out", join(dir, "ec.pub.pem"));
    sections = [
      { name: ".linux", data: readBytes(kernels[0]?.abs ?? "") },
      { name: ".osrel", data: text("ID=debian\n") },
      { name: ".cmdline", data: text("console=ttyS0") },
      { name: ".pcrpkey", data: new Uint8Array(readFileSync(join(dir, "rsa.pub.pem"))) },
    ];
    // A software TPM on a free port, for systemd 252's trial session.
    mkdirSync(join(dir, "tpm"));
    for (let attempt = 0; attempt < 5 && !tpm; attempt++) {
      port = 20000 + Math.floor(Math.random() * 20000);
      const child = spawn("swtpm", ["socket", "--tpm2", "--tpmstate", `dir=${join(dir, "tpm")}`, "--server", `type=tcp,port=${port},bindaddr=127.0.0.1`, "--ctrl", `type=tcp,port=${port + 1},bindaddr=127.0.0.1`, "--flags", "not-need-init"], { stdio: "ignore" });
      const exited = await new Promise<boolean>((res) => {
        child.once("exit", () => res(true));
        setTimeout(() => res(false), 500);
      });
      if (!exited) tpm = child;
    }
    if (!tpm) throw new Error("swtpm did not start");
  });
  afterAll(() => {
    tpm?.kill();
  });

  it("an RSA-signed .pcrsig verifies: every bank, every phase, the policy of each predicted value", async () => {
    const sig = sign(join(dir, "rsa.pem"), join(dir, "rsa.pub.pem"));
    const prediction = await predictPcr11(sections, { hash: nodeHashProvider });
    const v = await verifyPcrSig(sig, readBytes(join(dir, "rsa.pub.pem")), { prediction, hash: nodeHashProvider });
    expect(v.reasons).toEqual([]);
    expect(v.verdict).toBe("valid");
    expect(v.entries.map((e) => `${e.bank} ${e.phase}`)).toEqual(["sha1", "sha256", "sha384", "sha512"].flatMap((b) => PCR_PHASES.map((p) => `${b} ${p}`)));
    expect(v.entries.every((e) => e.signature === "valid" && e.fingerprintMatches === true)).toBe(true);
    // The policy digest kimage computes is the one systemd signed.
    const parsed = parsePcrSig(sig);
    const value = prediction.sha256?.[0]?.hash ?? "";
    const pol = await pcrPolicyDigest("sha256", Uint8Array.from(value.match(/../g) ?? [], (h) => parseInt(h, 16)), nodeHashProvider);
    expect(Buffer.from(pol).toString("hex")).toBe(parsed.sha256?.[0]?.pol);
  });

  it("an ECDSA (P-256) key", async () => {
    const sig = sign(join(dir, "ec.pem"), join(dir, "ec.pub.pem"), ["sha256", "sha384"]);
    expect(readPcrPublicKey(readBytes(join(dir, "ec.pub.pem"))).publicKey).toEqual({ kind: "ec", curve: "P-256" });
    const v = await verifyPcrSig(sig, readBytes(join(dir, "ec.pub.pem")), { hash: nodeHashProvider });
    expect(v.reasons).toEqual([]);
    expect(v.entries).toHaveLength(8);
  });

  it("tampered: a changed signature, a changed policy, another key, another command line", async () => {
    const sig = sign(join(dir, "rsa.pem"), join(dir, "rsa.pub.pem"), ["sha256"]);
    const pub = readBytes(join(dir, "rsa.pub.pem"));
    const json = JSON.parse(new TextDecoder().decode(sig)) as { sha256: Array<{ sig: string; pol: string }> };
    const prediction = await predictPcr11(sections, { hash: nodeHashProvider });

    const badSig = structuredClone(json);
    const s0 = badSig.sha256[0] as { sig: string };
    s0.sig = (s0.sig[0] === "A" ? "B" : "A") + s0.sig.slice(1);
    const v1 = await verifyPcrSig(text(JSON.stringify(badSig)), pub, { prediction, hash: nodeHashProvider });
    expect(v1.verdict).toBe("invalid");
    expect(v1.entries[0]?.signature).toBe("invalid");
    expect(v1.entries.slice(1).every((e) => e.signature === "valid")).toBe(true);

    const badPol = structuredClone(json);
    const p0 = badPol.sha256[0] as { pol: string };
    p0.pol = (p0.pol[0] === "0" ? "1" : "0") + p0.pol.slice(1);
    const v2 = await verifyPcrSig(text(JSON.stringify(badPol)), pub, { prediction, hash: nodeHashProvider });
    expect(v2.verdict).toBe("invalid");
    expect(v2.entries[0]).toMatchObject({ phase: null, signature: "invalid" });

    const v3 = await verifyPcrSig(sig, readBytes(join(dir, "ec.pub.pem")), { hash: nodeHashProvider });
    expect(v3.verdict).toBe("invalid");
    expect(v3.entries[0]?.fingerprintMatches).toBe(false);

    const other = await predictPcr11(sections.map((s) => (s.name === ".cmdline" ? { ...s, data: text("console=ttyS0 init=/bin/sh") } : s)), { hash: nodeHashProvider });
    const v4 = await verifyPcrSig(sig, pub, { prediction: other, hash: nodeHashProvider });
    expect(v4.verdict).toBe("invalid");
    expect(v4.entries.every((e) => e.signature === "valid" && e.phase === null)).toBe(true);
    expect(v4.reasons[0]).toMatch(/none of the predicted phases/);
  });

  it("kimage pcr11 on a UKI carrying .pcrsig and .pcrpkey: valid, and invalid once its .cmdline changes", async () => {
    const sig = sign(join(dir, "rsa.pem"), join(dir, "rsa.pub.pem"), ["sha256"]);
    const uki = (cmdline: string) => {
      const pe = buildPe({
        sections: [
          { name: ".text", data: 0x200, characteristics: SCN_TEXT },
          ...sections.map((s) => ({ name: s.name, data: s.name === ".cmdline" ? text(cmdline) : s.data, characteristics: SCN_RDATA })),
          { name: ".pcrsig", data: sig, characteristics: SCN_RDATA },
        ],
      });
      const p = join(dir, `uki-${cmdline.length}.efi`);
      writeFileSync(p, pe.bytes);
      return p;
    };
    const run = async (p: string) => {
      const out: string[] = [];
      const io: CliIo = { out: (s) => out.push(s), err: (s) => out.push(s) };
      expect(await main(["pcr11", p], io)).toBe(0);
      return out.join("\n");
    };
    expect(await run(uki("console=ttyS0"))).toMatch(/^pcrsig: valid \(4 signature\(s\)/m);
    const bad = await run(uki("console=ttyS0 init=/bin/sh"));
    expect(bad).toMatch(/^pcrsig: invalid/m);
    expect(bad).toMatch(/none of the predicted phases/);
  });

  it("malformed sections are typed errors", async () => {
    const pub = readBytes(join(dir, "rsa.pub.pem"));
    for (const bad of ["", "[]", '{"sha256": 5}', '{"sha256": [{"pcrs": [11]}]}', '{"sha256": [{"pcrs": [99], "pol": "00"}]}', '{"sha256": [{"pcrs": [11], "pol": "zz"}]}']) {
      await expect(verifyPcrSig(text(bad), pub)).rejects.toMatchObject({ code: "pcrsig-malformed" });
    }
    await expect(verifyPcrSig(text("{}"), text("not a key"))).rejects.toMatchObject({ code: "pcrpkey-invalid" });
    // Zero fill after the JSON (VirtualSize) is ignored; an empty object holds no signature.
    expect((await verifyPcrSig(new Uint8Array(8), pub).catch((e: unknown) => e)) as object).toMatchObject({ code: "pcrsig-malformed" });
    expect((await verifyPcrSig(text("{}\0\0\0"), pub)).reasons).toEqual([".pcrsig holds no signature"]);
  });
});
