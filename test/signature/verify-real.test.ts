// verifyAuthenticode on the real Debian files of fixtures/real/manifest.json.
//
// Trust anchors:
// - the Debian Secure Boot CA, taken with src/signature/shim.ts out of the
//   `.vendor_cert` section of Debian's unsigned shim
//   (bookworm/amd64/shim-unsigned/shimx64.efi; the trixie shim carries the
//   same certificate, checked below);
// - the Microsoft UEFI CA 2011 and 2023 (manifest kind `cert`, from Debian's
//   python3-virt-firmware: MicrosoftCorporationUEFICA2011.pem,
//   MicrosoftUEFICA2023.pem; PEM files with a text dump before BEGIN);
// - a throwaway EC CA made with openssl at test time, as the unrelated one.
//
// Expected: Debian-signed kernels, grub, fwupd, mm/fb: `valid` against the
// Debian CA. Microsoft-signed shims: both entries `valid` (mode `all`)
// against the two Microsoft CAs; in `kernel` mode `malformed` /
// `kernel-wrapper-length` (verify_pefile.c requires round_up(dwLength, 8) ==
// Size, so a two-entry table is -ELIBBAD). Every signed file against an
// unrelated anchor: `untrusted`. Unsigned files: `unsigned`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { verifyAuthenticode, verifyChain } from "../../src/signature/verify.js";
import { parseShimVendorCert } from "../../src/signature/shim.js";
import { parseCertificate } from "../../src/cms/certificate.js";
import { parsePe } from "../../src/formats/pe/parse.js";
import { parseSbat } from "../../src/formats/pe/sbat.js";
import { authenticodeDigest } from "../../src/formats/pe/authenticode.js";
import { readAuthenticodeInfo } from "../../src/cms/pkcs7-info.js";
import { OID } from "../../src/asn1/oids.js";
import { nodeHashProvider } from "../../src/node/index.js";
import { flipByte, withU32 } from "../support/pe-builder.js";
import { haveTool, isPe, readBytes, requireReal, type RealFixture } from "../support/real.js";

const hash = nodeHashProvider;
const pes = requireReal("real PE files", (f) => (f.kind === "kernel" || f.kind === "efi") && isPe(f));
const nonPe = requireReal("real non-PE kernels", (f) => f.kind === "kernel" && !isPe(f));
const shimSource = requireReal("Debian's unsigned shim (source of the Debian Secure Boot CA)", (f) => f.path === "bookworm/amd64/shim-unsigned/shimx64.efi");
const msCertFiles = requireReal("Microsoft UEFI CA 2011 and 2023 certificates (manifest kind cert)", (f) => f.kind === "cert" && ["MicrosoftCorporationUEFICA2011.pem", "MicrosoftUEFICA2023.pem"].includes(basename(f.path)));
const ready = pes.length > 0 && shimSource.length > 0 && msCertFiles.length === 2;
const haveOpenssl = ready && haveTool("openssl", ["version"]);
const haveSbverify = ready && haveTool("sbverify", ["--help"]);

const isMsSigned = (f: RealFixture): boolean => f.path.includes("/shim-signed/");
let signedCache: RealFixture[] | undefined;
/** The PEs that carry a certificate table (each file read once). */
const signedPes = (): RealFixture[] => (signedCache ??= pes.filter((f) => parsePe(readBytes(f.abs)).certificateTable !== null));

let debianCa: Uint8Array;
let ms: string[];
let unrelated: string;
let dir = "";

beforeAll(() => {
  if (!ready) return;
  const vc = parseShimVendorCert(readBytes((shimSource[0] as RealFixture).abs));
  if (!vc || vc.authorizedKind !== "x509") throw new Error("no vendor certificate in Debian's shim");
  debianCa = vc.certificates[0] as Uint8Array;
  ms = msCertFiles.map((f) => readFileSync(f.abs, "utf8"));
  if (haveOpenssl) {
    dir = mkdtempSync(join(tmpdir(), "kimage-real-"));
    const r = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "u.key", "-out", "u.pem", "-subj", "/CN=Unrelated Test CA", "-days", "30"], { cwd: dir });
    if (r.status !== 0) throw new Error(`openssl: ${r.stderr.toString()}`);
    unrelated = readFileSync(join(dir, "u.pem"), "utf8");
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!ready)("trust anchors from real files", () => {
  it("the Debian Secure Boot CA comes out of shim's .vendor_cert (bookworm/amd64/shim-unsigned/shimx64.efi)", () => {
    const c = parseCertificate(debianCa);
    expect(c.subject).toBe("CN=Debian Secure Boot CA");
    expect(c.selfIssued).toBe(true);
    expect(c.basicConstraints?.cA).toBe(true);
    const vc = parseShimVendorCert(readBytes((shimSource[0] as RealFixture).abs));
    // The vendor dbx is EFI_CERT_SHA256 image hashes.
    expect(vc?.deauthorizedLists.length).toBeGreaterThan(0);
    expect(vc?.dbx.imageHashes.every((h) => h.alg === "sha256" && h.hex.length === 64)).toBe(true);
    for (const other of pes.filter((f) => f.path.endsWith("/shim-unsigned/shimx64.efi"))) {
      expect(Buffer.from(parseShimVendorCert(readBytes(other.abs))?.certificates[0] ?? []).equals(debianCa), other.path).toBe(true);
    }
  });

  it("the Microsoft certificates parse from PEM with text before BEGIN", () => {
    expect(ms.every((t) => !t.startsWith("-----BEGIN"))).toBe(true);
  });
});

describe.skipIf(!ready)("real files: verdicts", () => {
  it("every PE: Debian-signed valid, Microsoft-signed valid (both entries, mode all), unsigned unsigned", async () => {
    const summary: string[] = [];
    for (const f of pes) {
      const bytes = readBytes(f.abs);
      const signed = parsePe(bytes).certificateTable !== null;
      if (!signed) {
        expect(await verifyAuthenticode(bytes, { trust: [debianCa], hash }), f.path).toMatchObject({ verdict: "unsigned", reason: "no-signature" });
        summary.push(`${f.path}: unsigned`);
        continue;
      }
      if (isMsSigned(f)) {
        const v = await verifyAuthenticode(bytes, { trust: ms, mode: "all", hash });
        expect(v, f.path).toMatchObject({ verdict: "valid", reason: "ok" });
        expect(v.signatures.map((s) => s.verdict), f.path).toEqual(["valid", "valid"]);
        expect(v.signatures.map((s) => s.trustedBy)).toEqual([
          "CN=Microsoft Corporation UEFI CA 2011,O=Microsoft Corporation,L=Redmond,ST=Washington,C=US",
          "CN=Microsoft UEFI CA 2023,O=Microsoft Corporation,C=US",
        ]);
        summary.push(`${f.path}: ${v.verdict} [${v.signatures.map((s) => `${s.signer} → ${s.trustedBy}`).join("; ")}]`);
      } else {
        const v = await verifyAuthenticode(bytes, { trust: [debianCa], hash });
        expect(v, f.path).toMatchObject({ verdict: "valid", reason: "ok" });
        expect(v.signatures[0]).toMatchObject({ issuer: "CN=Debian Secure Boot CA", trustedBy: "CN=Debian Secure Boot CA", digestAlgorithm: "sha256", digestMatch: true });
        expect(v.signatures[0]?.signer).toMatch(/^CN=Debian Secure Boot Signer 20\d\d - /);
        summary.push(`${f.path}: ${v.verdict} [${v.signatures[0]?.signer}]`);
      }
    }
    console.log(summary.join("\n"));
    // The issue's named classes are all present.
    // The issue's named classes are all present, matched by role and suite (never by a
    // version: the archive moves to a new ABI with every point release).
    const signedKernel = (suite: string, arch: string) => (f: RealFixture) => f.kind === "kernel" && f.signedPackage && f.suite === suite && f.arch === arch;
    const efi = (name: string) => (f: RealFixture) => f.kind === "efi" && basename(f.path) === name;
    const named: [string, (f: RealFixture) => boolean][] = [
      ["Debian-signed bookworm amd64 kernel", signedKernel("bookworm", "amd64")],
      ["Debian-signed bookworm arm64 kernel", signedKernel("bookworm", "arm64")],
      ["Debian-signed trixie amd64 kernel", signedKernel("trixie", "amd64")],
      ["Debian-signed trixie arm64 kernel", signedKernel("trixie", "arm64")],
      ...["grubx64.efi.signed", "fwupdx64.efi.signed", "mmx64.efi.signed", "fbx64.efi.signed", "shimx64.efi.signed", "shimaa64.efi.signed"].map((n): [string, (f: RealFixture) => boolean] => [n, efi(n)]),
    ];
    for (const [n, is] of named) expect(signedPes().some(is), n).toBe(true);
  });

  it("Microsoft-signed shim in kernel mode: malformed / kernel-wrapper-length (the kernel takes a two-entry table as -ELIBBAD); shim and any: valid", async () => {
    for (const f of pes.filter(isMsSigned)) {
      const bytes = readBytes(f.abs);
      const k = await verifyAuthenticode(bytes, { trust: ms, hash });
      expect(k, f.path).toMatchObject({ verdict: "malformed", reason: "kernel-wrapper-length" });
      expect(k.detail).toMatch(/round_up\(dwLength \d+, 8\) = \d+ != certificate table Size \d+/);
      expect(k.signatures[1]).toMatchObject({ counted: false, verdict: "valid" });
      // The blocked entry still says what it claims.
      expect(k.signatures[0]).toMatchObject({ counted: true, digestAlgorithm: "sha256", digestMatch: true });
      expect(k.signatures[0]?.signer).toMatch(/Microsoft/);
      expect(await verifyAuthenticode(bytes, { trust: ms, mode: "shim", hash })).toMatchObject({ verdict: "valid" });
      expect(await verifyAuthenticode(bytes, { trust: [ms[0] as string], mode: "any", hash })).toMatchObject({ verdict: "valid" });
      // Only the 2011 CA: the 2023 entry is untrusted, so `all` fails on it.
      const only2011 = await verifyAuthenticode(bytes, { trust: [ms.find((m) => m.includes("UEFI CA 2011")) ?? ""], mode: "all", hash });
      expect(only2011).toMatchObject({ verdict: "untrusted", reason: "no-trusted-anchor" });
      expect(only2011.detail).toMatch(/^signature 1: /);
    }
  });

  it("every signed file against an unrelated certificate: untrusted (Debian files vs the Microsoft CAs and vice versa, and a throwaway CA)", async () => {
    for (const f of signedPes()) {
      const bytes = readBytes(f.abs);
      const wrong = isMsSigned(f) ? [debianCa] : ms;
      for (const trust of [wrong, ...(haveOpenssl ? [[unrelated]] : []), []]) {
        const v = await verifyAuthenticode(bytes, { trust, mode: "any", hash });
        expect(v, f.path).toMatchObject({ verdict: "untrusted", reason: "no-trusted-anchor" });
        expect(v.signatures.every((s) => s.verdict === "untrusted" && s.digestMatch === true), f.path).toBe(true);
      }
    }
  });

  it("non-PE kernels (ppc64el ELF, s390x): verifyChain finds no PE layer → unsigned", async () => {
    for (const f of nonPe) {
      expect(await verifyChain(readBytes(f.abs), { trust: [debianCa], hash }), f.path).toMatchObject({ verdict: "unsigned", reason: "no-signature" });
    }
  });

  it("verifyChain: the outer PE layer's verdict (one file per kind of image; inspect() may decompress payloads)", async () => {
    const sample = pes.filter((f) => /trixie\/(amd64|arm64)\/linux-image-[^/]+-(amd64|arm64)\/|shim-signed\/shimx64|\/loong64\//.test(f.path));
    expect(sample.length).toBeGreaterThan(0);
    for (const f of sample) {
      const bytes = readBytes(f.abs);
      const trust = isMsSigned(f) ? ms : [debianCa];
      const c = await verifyChain(bytes, { trust, mode: isMsSigned(f) ? "all" : "kernel", hash });
      const direct = await verifyAuthenticode(bytes, { trust, mode: isMsSigned(f) ? "all" : "kernel", hash });
      expect(c.layers[0]?.index, f.path).toBe(0);
      expect(c.verdict, f.path).toBe(direct.verdict);
    }
  });
});

describe.skipIf(!ready || !haveSbverify)("sbverify 0.9.4 next to kimage", () => {
  it("sbverify --cert <Debian CA> on a Microsoft-signed shim (whose chain carries an intermediate): OK; kimage: untrusted", async () => {
    const f = pes.find(isMsSigned);
    if (!f || !dir) return;
    writeFileSync(join(dir, "debian-ca.der"), debianCa);
    const pemText = `-----BEGIN CERTIFICATE-----\n${Buffer.from(debianCa).toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE-----\n`;
    writeFileSync(join(dir, "debian-ca.pem"), pemText);
    const r = spawnSync("sbverify", ["--cert", join(dir, "debian-ca.pem"), f.abs], { encoding: "utf8" });
    const line = `${r.stdout}${r.stderr}`.split("\n").find((l) => l.startsWith("Signature verification")) ?? "";
    console.log(`sbverify --cert debian-ca.pem ${f.path}: exit ${r.status}, "${line}"`);
    expect(r.status).toBe(0);
    expect(line).toBe("Signature verification OK");
    const ours = await verifyAuthenticode(readBytes(f.abs), { trust: [pemText], mode: "any", hash });
    expect(ours).toMatchObject({ verdict: "untrusted", reason: "no-trusted-anchor" });
  });

  it("sbverify --cert <Microsoft UEFI CA 2011> on a Debian kernel (no intermediate): failed, as kimage says untrusted", async () => {
    const f = signedPes().find((x) => x.kind === "kernel");
    if (!f) return;
    const ms2011 = msCertFiles.find((x) => x.path.endsWith("UEFICA2011.pem")) as RealFixture;
    const r = spawnSync("sbverify", ["--cert", ms2011.abs, f.abs], { encoding: "utf8" });
    const line = `${r.stdout}${r.stderr}`.split("\n").find((l) => l.startsWith("Signature verification")) ?? "";
    console.log(`sbverify --cert MicrosoftCorporationUEFICA2011.pem ${f.path}: exit ${r.status}, "${line}"`);
    expect(r.status).not.toBe(0);
    expect((await verifyAuthenticode(readBytes(f.abs), { trust: ms, hash })).verdict).toBe("untrusted");
  });
});

describe.skipIf(!ready)("real signed kernel: tampered copies and policy", () => {
  const pick = (): RealFixture => {
    const f = signedPes().find((x) => x.kind === "kernel" && x.arch === "amd64" && x.suite === "trixie") ?? signedPes().find((x) => x.kind === "kernel");
    if (!f) throw new Error("no signed kernel");
    return f;
  };
  /** Absolute file offset of a subarray of `bytes`. */
  const offsetIn = (bytes: Uint8Array, sub: Uint8Array): number => sub.byteOffset - bytes.byteOffset;

  it("a byte flipped in each hashed region class: digest-mismatch; CheckSum changed: valid", async () => {
    const bytes = readBytes(pick().abs);
    const pe = parsePe(bytes);
    const sec = pe.sections.find((s) => s.SizeOfRawData > 0);
    if (!sec) throw new Error("no section");
    const classes: [string, number][] = [
      ["headers (DOS header)", 0x20],
      ["headers (section table)", pe.layout.sectionTable + 1],
      ["first section", sec.PointerToRawData + 100],
    ];
    const sum = pe.optional.SizeOfHeaders + pe.sections.reduce((a, s) => a + s.SizeOfRawData, 0);
    const table = pe.certificateTable;
    if (table && table.offset > sum) classes.push(["remaining data", sum]);
    for (const [name, at] of classes) {
      const v = await verifyAuthenticode(flipByte(bytes, at, 0x01), { trust: [debianCa], hash });
      expect(v, name).toMatchObject({ verdict: "digest-mismatch", reason: "image-digest-mismatch" });
    }
    const cs = await verifyAuthenticode(withU32(bytes, pe.layout.checksum, 0xdeadbeef), { trust: [debianCa], hash });
    expect(cs).toMatchObject({ verdict: "valid" });
  });

  it("signature bytes flipped: RSA signature → bad-signature; messageDigest → message-digest-mismatch; signer certificate → bad-chain-signature", async () => {
    const bytes = readBytes(pick().abs);
    const e = parsePe(bytes).certificateTable?.entries[0];
    if (!e) throw new Error("unsigned");
    const info = readAuthenticodeInfo(e.bCertificate, e.contentOffset);
    const s = info.signers[0];
    if (!s?.messageDigest) throw new Error("no signer");
    const v1 = await verifyAuthenticode(flipByte(bytes, offsetIn(bytes, s.signature) + 40), { trust: [debianCa], hash });
    expect(v1).toMatchObject({ verdict: "untrusted", reason: "bad-signature" });
    const v2 = await verifyAuthenticode(flipByte(bytes, offsetIn(bytes, s.messageDigest) + 3), { trust: [debianCa], hash });
    expect(v2).toMatchObject({ verdict: "digest-mismatch", reason: "message-digest-mismatch" });
    const cert = info.certificates[0];
    if (!cert) throw new Error("no certificate");
    const v3 = await verifyAuthenticode(flipByte(bytes, cert.offset + cert.raw.length - 10), { trust: [debianCa], hash });
    expect(v3).toMatchObject({ verdict: "untrusted", reason: "bad-chain-signature" });
  });

  it("options.time, requireKeyUsage, requireEku (code signing) on Debian and Microsoft chains", async () => {
    const bytes = readBytes(pick().abs);
    const now = new Date();
    expect(await verifyAuthenticode(bytes, { trust: [debianCa], time: now, requireKeyUsage: true, requireEku: [OID.codeSigning], hash })).toMatchObject({ verdict: "valid" });
    expect(await verifyAuthenticode(bytes, { trust: [debianCa], time: new Date(Date.UTC(2050, 0, 1)), hash })).toMatchObject({ verdict: "untrusted", reason: "certificate-not-valid-at-time" });
    // The Microsoft UEFI CA 2011 expired on 2026-06-27: without options.time the 2011 chain is valid (UEFI and the kernel ignore expiry), at 2026-07-01 it is not.
    for (const f of pes.filter(isMsSigned)) {
      const b = readBytes(f.abs);
      expect((await verifyAuthenticode(b, { trust: ms, mode: "all", hash })).signatures[0]?.verdict).toBe("valid");
      const at = await verifyAuthenticode(b, { trust: ms, mode: "all", time: new Date(Date.UTC(2026, 6, 1)), hash });
      expect(at.signatures[0], f.path).toMatchObject({ verdict: "untrusted", reason: "certificate-not-valid-at-time" });
    }
  });

  it("denylist: Debian's vendor dbx leaves the kernel valid; its own image hash, its signer certificate and its TBS hash deny it", async () => {
    const f = pick();
    const bytes = readBytes(f.abs);
    const vc = parseShimVendorCert(readBytes((shimSource[0] as RealFixture).abs));
    expect(await verifyAuthenticode(bytes, { trust: [debianCa], deny: { efiSignatureLists: [vc?.deauthorized ?? new Uint8Array(0)] }, hash })).toMatchObject({ verdict: "valid" });
    const d = await authenticodeDigest(bytes, "sha256", { hash });
    expect(await verifyAuthenticode(bytes, { trust: [debianCa], deny: { imageHashes: [d.hex] }, hash })).toMatchObject({ verdict: "untrusted", reason: "denied-image-hash" });
    const e = parsePe(bytes).certificateTable?.entries[0];
    const signerCert = e ? readAuthenticodeInfo(e.bCertificate, e.contentOffset).certificates[0]?.raw : undefined;
    if (!signerCert) throw new Error("no certificate");
    expect(await verifyAuthenticode(bytes, { trust: [debianCa], deny: { certificates: [signerCert] }, hash })).toMatchObject({ verdict: "untrusted", reason: "denied-certificate" });
    const tbs = parseCertificate(signerCert).tbsRaw;
    const tbsHash = await hash.digest("sha256", [tbs]);
    expect(await verifyAuthenticode(bytes, { trust: [debianCa], deny: { tbsHashes: [tbsHash] }, hash })).toMatchObject({ verdict: "untrusted", reason: "denied-tbs-hash" });
  });

  it("SBAT: shim and grub at their own generation pass; one generation higher revokes them", async () => {
    const cases = signedPes().filter((f) => /shimx64\.efi\.signed$|grubx64\.efi\.signed$/.test(f.path));
    expect(cases.length).toBeGreaterThan(0);
    for (const f of cases) {
      const bytes = readBytes(f.abs);
      const entries = parseSbat(parsePe(bytes)) ?? [];
      const comp = entries[1];
      if (!comp) throw new Error(`${f.path} has no .sbat component`);
      const trust = isMsSigned(f) ? ms : [debianCa];
      const mode = isMsSigned(f) ? "shim" : "kernel";
      const level = (g: number) => `sbat,1,2024010900\n${comp.component_name},${g}\n`;
      expect(await verifyAuthenticode(bytes, { trust, mode, sbatLevel: level(comp.component_generation), hash }), f.path).toMatchObject({ verdict: "valid" });
      const r = await verifyAuthenticode(bytes, { trust, mode, sbatLevel: level(comp.component_generation + 1), hash });
      expect(r, f.path).toMatchObject({ verdict: "untrusted", reason: "sbat-revoked" });
    }
  });
});
