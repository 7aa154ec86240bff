// `kimage verify --mode auto` (the default) on real Debian files: a
// Microsoft-signed shim against the Microsoft UEFI CAs is `valid` under
// firmware (shim) rules, a Debian-signed kernel against the Debian CA keeps
// the kernel's rules, and the output (text and JSON) names the rules used.
// Explicit modes behave and print as before. Runs the built dist/cli.js.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { autoMode } from "../../src/cli/verify.js";
import { parsePe, parseShimVendorCert } from "../../src/index.js";
import { isPe, readBytes, requireReal } from "../support/real.js";

function cli(...args: string[]) {
  const r = spawnSync("node", ["dist/cli.js", ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const pes = requireReal("real PE files", (f) => (f.kind === "kernel" || f.kind === "efi") && isPe(f));
const nonPe = requireReal("real non-PE kernels", (f) => f.kind === "kernel" && !isPe(f));
const msShims = requireReal("Microsoft-signed shims", (f) => f.path.includes("/shim-signed/"));
const msCas = requireReal("Microsoft UEFI CA 2011 and 2023", (f) => f.kind === "cert" && ["MicrosoftCorporationUEFICA2011.pem", "MicrosoftUEFICA2023.pem"].includes(basename(f.path)));
const shimSource = requireReal("Debian's unsigned shim (the Debian CA)", (f) => f.path === "bookworm/amd64/shim-unsigned/shimx64.efi");
const debianKernels = requireReal("Debian-signed kernels", (f) => f.kind === "kernel" && f.signedPackage && isPe(f));
const grub = requireReal("Debian-signed grub", (f) => f.path === "trixie/amd64/grub-efi-amd64-signed/grubx64.efi.signed");

const dir = mkdtempSync(join(tmpdir(), "kimage-verify-auto-"));
let debianCa = "";
beforeAll(() => {
  if (shimSource.length === 0) return;
  const der = parseShimVendorCert(parsePe(readBytes(shimSource[0]?.abs ?? "")))?.certificates[0];
  if (!der) throw new Error("no vendor certificate in Debian's shim");
  debianCa = join(dir, "debian-ca.der");
  writeFileSync(debianCa, der);
});
const msArgs = () => msCas.flatMap((f) => ["--cert", f.abs]);

interface VerifyJson {
  verdict: string;
  reason: string;
  mode: string;
  modeRequested?: string;
  modeReason?: string;
  signatures: Array<{ verdict: string; signer: string }>;
}

describe.skipIf(pes.length === 0)("autoMode: what the file is", () => {
  it("every real kernel PE (an EFI stub) gets kernel rules, every other real EFI binary firmware rules, a non-PE kernel kernel rules", () => {
    for (const f of pes) {
      const m = autoMode(readBytes(f.abs));
      if (f.kind === "kernel") expect(m, f.path).toMatchObject({ mode: "kernel", why: expect.stringMatching(/^a Linux kernel \(an EFI stub for (bzimage|arm64-image|riscv-image|zimage|zboot|loongarch-image)\)$/) });
      else expect(m, f.path).toEqual({ mode: "shim", why: "an EFI application that is not a Linux kernel" });
    }
    for (const f of nonPe) expect(autoMode(readBytes(f.abs)), f.path).toEqual({ mode: "kernel", why: "not a readable PE" });
  });
});

describe.skipIf(msShims.length === 0 || msCas.length < 2)("a Microsoft-signed shim against the Microsoft UEFI CAs", () => {
  it("is valid by default, under firmware rules chosen by --mode auto (text and JSON)", () => {
    for (const shim of msShims) {
      const t = cli("verify", shim.abs, ...msArgs());
      expect(t.code, `${shim.path}\n${t.out}${t.err}`).toBe(0);
      const lines = t.out.split("\n");
      expect(lines[0], shim.path).toMatch(/^verdict: valid \(ok\) in shim mode: /);
      expect(lines[1], shim.path).toBe(
        "rules: firmware rules (shim, UEFI db): any valid signature suffices; a denied certificate in any signature rejects [--mode shim, chosen by --mode auto: an EFI application that is not a Linux kernel]",
      );
      const j = cli("verify", "--json", shim.abs, ...msArgs());
      expect(j.code).toBe(0);
      const v = JSON.parse(j.out) as VerifyJson;
      expect(v).toMatchObject({ verdict: "valid", reason: "ok", mode: "shim", modeRequested: "auto", modeReason: "an EFI application that is not a Linux kernel" });
      expect(v.signatures.map((s) => s.verdict)).toEqual(["valid", "valid"]);
    }
  });

  it("--mode kernel still says malformed (kernel-wrapper-length), and its JSON has no auto fields", () => {
    const shim = msShims[0]?.abs ?? "";
    const j = cli("verify", "--json", "--mode", "kernel", shim, ...msArgs());
    expect(j.code).toBe(1);
    const v = JSON.parse(j.out) as VerifyJson & Record<string, unknown>;
    expect(v).toMatchObject({ verdict: "malformed", reason: "kernel-wrapper-length", mode: "kernel" });
    expect(Object.keys(v)).toEqual(["verdict", "reason", "detail", "mode", "strict", "signatures", "findings", "sbat"]);
    expect(cli("verify", "--mode", "kernel", shim, ...msArgs()).out.split("\n")[1]).toBe(
      "rules: kernel rules (kexec_file_load): only the first signature counts, and the certificate table must hold exactly it [--mode kernel]",
    );
  });
});

describe.skipIf(debianKernels.length === 0 || shimSource.length === 0)("a Debian-signed kernel against the Debian CA", () => {
  it("keeps kernel rules under --mode auto and is valid", () => {
    for (const k of debianKernels) {
      const j = cli("verify", "--json", k.abs, "--cert", debianCa);
      expect(j.code, `${k.path}: ${j.out}${j.err}`).toBe(0);
      const v = JSON.parse(j.out) as VerifyJson;
      expect(v, k.path).toMatchObject({ verdict: "valid", mode: "kernel", modeRequested: "auto", modeReason: expect.stringMatching(/^a Linux kernel \(an EFI stub for /) });
      expect(v.signatures[0]?.signer).toContain("Debian Secure Boot Signer");
    }
    const t = cli("verify", debianKernels[0]?.abs ?? "", "--cert", debianCa);
    expect(t.out.split("\n")[1]).toMatch(/^rules: kernel rules \(kexec_file_load\): .* \[--mode kernel, chosen by --mode auto: a Linux kernel \(an EFI stub for [a-z0-9-]+\)\]$/);
  });

  it.skipIf(grub.length === 0 || msShims.length === 0)("several FILEs: a block per file with its own rules, JSON an array, exit 1 when one is not valid", () => {
    const files = [debianKernels[0]?.abs ?? "", grub[0]?.abs ?? "", msShims[0]?.abs ?? ""];
    const t = cli("verify", ...files, "--cert", debianCa, ...msArgs());
    expect(t.code).toBe(0);
    const blocks = t.out.trimEnd().split("\n\n");
    expect(blocks.map((b) => b.split("\n")[0])).toEqual(files.map((f) => `File: ${f}`));
    expect(blocks.map((b) => /\[--mode (\w+)/.exec(b)?.[1])).toEqual(["kernel", "shim", "shim"]);
    const j = JSON.parse(cli("verify", "--json", ...files, "--cert", debianCa, ...msArgs()).out) as Array<VerifyJson & { file: string }>;
    expect(j.map((v) => [v.file, v.verdict, v.mode])).toEqual([
      [files[0], "valid", "kernel"],
      [files[1], "valid", "shim"],
      [files[2], "valid", "shim"],
    ]);
    // Only the Debian CA: the Microsoft-signed shim is untrusted, so the whole run exits 1.
    const partial = cli("verify", ...files, "--cert", debianCa);
    expect(partial.code).toBe(1);
    expect(partial.out).toMatch(/^verdict: untrusted/m);
  });
});
