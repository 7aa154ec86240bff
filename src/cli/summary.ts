/**
 * The concise view of `kimage inspect`: what a person wants first about a
 * kernel image, in a dozen lines of at most 100 columns: its version, the
 * layers as one chain, the architecture, the signatures it carries (not
 * verified: that is `kimage verify`), the build-id and the sizes.
 * `inspect -v` prints every field instead ({@link renderTree}).
 *
 * @module
 */

import type { JsonValue, Layer } from "../format/types.js";
import type { KernelIdentity } from "../inspect/identity.js";
import { palette } from "./colour.js";

/** The widest line the concise view prints (longer values are cut with "…"). */
export const SUMMARY_WIDTH = 100;

/** Layers that only a Linux kernel has. */
const KERNEL_LAYERS = new Set(["bzimage", "arm64-image", "riscv-image", "zimage", "zboot", "loongarch-image", "s390-image"]);

/** At most this many signature lines; the rest are counted. */
const MAX_SIGNATURES = 4;

/** Compressed-data layer ids (their `size` is the decompressed size). */
const CODECS = new Set(["gzip", "zstd", "xz", "lz4", "lzma", "bzip2", "lzo"]);

type Fields = { [key: string]: JsonValue };

const str = (v: JsonValue | undefined): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const num = (v: JsonValue | undefined): number | undefined => {
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^0x[0-9a-f]+$/i.test(v)) return Number.parseInt(v.slice(2), 16);
  return undefined;
};
const obj = (v: JsonValue | undefined): Fields | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? v : undefined);
const arr = (v: JsonValue | undefined): JsonValue[] => (Array.isArray(v) ? v : []);

/** A byte count with a binary unit: `12171200 bytes (11.6 MiB)`. */
export function sizeText(n: number): string {
  const units = ["KiB", "MiB", "GiB"];
  let v = n;
  let unit = "";
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return unit ? `${n} bytes (${v.toFixed(1)} ${unit})` : `${n} bytes`;
}

const PE_ARCH: Readonly<Record<string, string>> = {
  AMD64: "x86_64",
  I386: "i386",
  ARM64: "arm64",
  ARM: "arm",
  ARMNT: "arm",
  THUMB: "arm",
  RISCV32: "riscv32",
  RISCV64: "riscv64",
  RISCV128: "riscv128",
  LOONGARCH32: "loongarch32",
  LOONGARCH64: "loongarch64",
  EBC: "EFI byte code",
};

function elfArch(f: Fields): string | undefined {
  const m = str(f.e_machine);
  const is64 = f.class === "ELF64";
  const le = f.data === "ELFDATA2LSB";
  switch (m) {
    case "EM_X86_64":
      return "x86_64";
    case "EM_386":
      return "i386";
    case "EM_AARCH64":
      return "arm64";
    case "EM_ARM":
      return "arm";
    case "EM_PPC64":
      return le ? "ppc64le" : "ppc64";
    case "EM_PPC":
      return "ppc";
    case "EM_RISCV":
      return is64 ? "riscv64" : "riscv32";
    case "EM_S390":
      return is64 ? "s390x" : "s390";
    case "EM_LOONGARCH":
      return is64 ? "loongarch64" : "loongarch32";
    case "EM_MIPS":
      return is64 ? "mips64" : "mips";
    case undefined:
      return undefined;
    default:
      return m.replace(/^EM_/, "").toLowerCase();
  }
}

const ENDIAN: Readonly<Record<string, string>> = { LE: "little-endian", BE: "big-endian" };

/** The architecture and what the headers say about it: `arm64, little-endian, 4K pages`. */
export function archText(layers: readonly Layer[]): string | undefined {
  let arch: string | undefined;
  const extras: string[] = [];
  // The kernel's own headers first (innermost), then the EFI stub's machine.
  for (const l of [...layers].reverse()) {
    const f = l.fields;
    switch (l.format) {
      case "arm64-image":
        arch ??= "arm64";
        if (str(f.endianness)) extras.push(ENDIAN[f.endianness as string] ?? String(f.endianness));
        if (str(f.pageSize)) extras.push(`${String(f.pageSize)} pages`);
        break;
      case "riscv-image":
        arch ??= "riscv64";
        if (str(f.endianness)) extras.push(ENDIAN[f.endianness as string] ?? String(f.endianness));
        break;
      case "zimage":
        arch ??= "arm";
        if (str(f.byteOrder)) extras.push(ENDIAN[f.byteOrder as string] ?? String(f.byteOrder));
        break;
      case "loongarch-image":
        arch ??= "loongarch64";
        break;
      case "s390-image":
        arch ??= "s390x";
        break;
      case "bzimage": {
        const x = num(f.xloadflags);
        if (x !== undefined) extras.push(x & 1 ? "64-bit entry" : "32-bit entry only");
        if (str(f.protocol)) extras.push(`boot protocol ${String(f.protocol)}`);
        break;
      }
      case "elf":
        arch ??= elfArch(f);
        break;
      case "pe":
        arch ??= PE_ARCH[str(f.machine) ?? ""] ?? str(f.machine)?.toLowerCase();
        break;
    }
  }
  if (!arch) return undefined;
  return [arch, ...extras].join(", ");
}

/** The common name in a distinguished name (`CN=Debian Secure Boot CA,O=…` → `Debian Secure Boot CA`). */
export function commonName(dn: string): string {
  const m = /(?:^|,)\s*CN=((?:\\.|[^,])*)/.exec(dn);
  return m?.[1]?.replace(/\\(.)/g, "$1") ?? dn;
}

/** One line per certificate-table entry: who signed it and with which issuer. */
export function signatureLines(pe: Layer | undefined): string[] {
  if (!pe) return ["none (no PE certificate table)"];
  const certs = arr(pe.fields.certificates);
  if (certs.length === 0) return ["unsigned"];
  const lines = certs.slice(0, MAX_SIGNATURES).map((c, i) => {
    const e = obj(c) ?? {};
    const tag = certs.length > 1 ? `[${i}] ` : "";
    const err = obj(e.error);
    if (err) return `${tag}unreadable ${str(e.type) ?? "entry"} (${str(err.code) ?? "error"})`;
    const signer = obj(arr(e.signers)[0]);
    const who = str(signer?.commonName) ?? str(arr(e.certificates)[0]) ?? "an unnamed signer";
    const issuer = str(signer?.issuer);
    const nested = typeof signer?.nestedSignatures === "number" && signer.nestedSignatures > 0 ? `+${signer.nestedSignatures} nested` : "";
    // The digest algorithm only when it is not the usual SHA-256 (e.g. a SHA-1 signature).
    const alg = str(e.digestAlgorithm);
    const notes = [alg && alg !== "sha256" ? alg : "", nested].filter(Boolean).join(", ");
    return `${tag}${certs.length > 1 ? "" : "signed by "}${who}${issuer ? `, issuer ${commonName(issuer)}` : ""}${notes ? ` (${notes})` : ""}`;
  });
  if (certs.length > MAX_SIGNATURES) lines.push(`… and ${certs.length - MAX_SIGNATURES} more entries (inspect -v lists them)`);
  return lines;
}

/** The kexec verdict of the outermost layer that states one (`kexecLoadable`/`kexecErrors`, or `kexec: {loadable, reasons}`). */
function kexecText(layers: readonly Layer[]): string | undefined {
  for (const l of layers) {
    const k = obj(l.fields.kexec);
    const ok = typeof l.fields.kexecLoadable === "boolean" ? l.fields.kexecLoadable : k?.loadable;
    if (typeof ok !== "boolean") continue;
    if (ok) return `loadable (${l.format})`;
    const first = arr(l.fields.kexecErrors)[0] ?? arr(k?.reasons)[0];
    const why = str(first) ?? str(obj(first)?.message);
    return `not loadable (${l.format})${why ? `: ${why}` : ""}`;
  }
  return undefined;
}

/** MiB with one decimal, for sizes side by side. */
const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** The compressed payloads: `zstd 11922356 → 57646496 bytes (11.4 → 55.0 MiB)`. */
function payloadText(layers: readonly Layer[]): string | undefined {
  const parts = layers
    .filter((l) => CODECS.has(l.format))
    .map((l) => {
      // A codec layer's input is the compressed data; its `size` field is the decompressed size the container states.
      const packed = num(l.fields.compressedSize) ?? l.size;
      const unpacked = num(l.fields.size);
      return unpacked === undefined ? `${l.format} ${sizeText(packed)}` : `${l.format} ${packed} → ${unpacked} bytes (${mib(packed)} → ${mib(unpacked)})`;
    });
  return parts.length > 0 ? parts.join("; ") : undefined;
}

/** The memory the kernel asks for, where a header states it: `init_size 58650624 bytes (55.9 MiB)`. */
function memoryText(layers: readonly Layer[]): string | undefined {
  for (const l of layers) {
    const f = l.fields;
    const field = l.format === "bzimage" ? "init_size" : l.format === "arm64-image" || l.format === "riscv-image" ? "image_size" : l.format === "loongarch-image" ? "kernel_asize" : undefined;
    const n = field ? num(f[field]) : undefined;
    if (field && n !== undefined && n > 0) return `${field} ${sizeText(n)}`;
  }
  return undefined;
}

/**
 * The parts of a `linux_banner` after the release: `(builder@host)`, the
 * `(compiler, linker)` group and `#1 SMP … (date)`.
 */
export function bannerParts(versionString: string, release: string): { compiler?: string; build?: string } {
  let rest = versionString.startsWith(release) ? versionString.slice(release.length) : versionString;
  const groups: string[] = [];
  for (;;) {
    rest = rest.trimStart();
    if (!rest.startsWith("(")) break;
    let depth = 0;
    let end = -1;
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === "(") depth++;
      else if (rest[i] === ")" && --depth === 0) {
        end = i;
        break;
      }
    }
    if (end < 0) break;
    groups.push(rest.slice(1, end));
    rest = rest.slice(end + 1);
  }
  const compiler = groups.find((g) => !g.includes("@"));
  const build = rest.trim();
  return { ...(compiler ? { compiler } : {}), ...(build ? { build } : {}) };
}

function cut(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`;
}

/** For a UKI (a `uki` layer): its parts, profiles and command line; nothing for other files. */
function ukiRows(layers: readonly Layer[]): Array<[string, string]> {
  const uki = layers.find((l) => l.format === "uki");
  if (!uki) return [];
  const parts = arr(uki.fields.sections)
    .map((e) => obj(e))
    .filter((e): e is Fields => e !== undefined && e.role !== "stub")
    .map((e) => String(e.name));
  const rows: Array<[string, string]> = [[uki.fields.kind === "addon" ? "uki addon" : "uki", [...new Set(parts)].join(" ")]];
  const profiles = arr(uki.fields.profiles)
    .map((e) => obj(e))
    .filter((e): e is Fields => e !== undefined)
    .map((p) => `${String(p.index)}=${String(p.id ?? "?")}${p.title ? ` (${String(p.title)})` : ""}`);
  if (profiles.length > 0) rows.push(["profiles", profiles.join(", ")]);
  if (typeof uki.fields.cmdline === "string") rows.push(["cmdline", JSON.stringify(uki.fields.cmdline)]);
  return rows;
}

/** What {@link renderSummary} shows. */
export interface SummaryInput {
  file: string;
  size: number;
  layers: readonly Layer[];
  identity: KernelIdentity;
  /** Whether the image ends in an appended (module-style) signature. */
  appendedSignature?: boolean;
  /** `--full` was given (the config line is then shown, found or not). */
  full?: boolean;
  color?: boolean;
}

/** The concise view: the file name, then one `label: value` line per fact (at most about 20, within 100 columns). */
export function renderSummary(input: SummaryInput): string {
  const c = palette(Boolean(input.color));
  const { layers, identity: id } = input;
  const rows: Array<[string, string, ((s: string) => string)?]> = [];
  const kernel = layers.some((l) => KERNEL_LAYERS.has(l.format) || (l.format === "elf" && l.fields.buildSalt));
  const missing = kernel || layers[0]?.format !== "pe" ? `(not found${input.full ? "" : "; --full searches the decoded kernel"})` : "(none: an EFI application, not a Linux kernel)";
  rows.push(["version", id.version ?? missing, id.version ? c.bold : c.dim]);
  const banner = id.versionString && id.version ? bannerParts(id.versionString, id.version) : {};
  if (banner.build) rows.push(["build", banner.build]);
  if (banner.compiler) rows.push(["compiler", banner.compiler]);
  rows.push(["layers", layers.map((l) => l.format).join(" → ")]);
  const arch = archText(layers);
  if (arch) rows.push(["arch", arch]);
  rows.push(...ukiRows(layers));
  const pe = layers.find((l) => l.format === "pe");
  const sigs = input.appendedSignature ? ["appended module signature (kimage verify checks it)"] : signatureLines(pe);
  sigs.forEach((s, i) => rows.push([i === 0 ? "signature" : "", s, s === "unsigned" || s.startsWith("none") ? c.yellow : undefined]));
  const sbat = arr(pe?.fields.sbat)
    .map((e) => obj(e))
    .filter((e): e is Fields => e !== undefined && e.component_name !== "sbat")
    .map((e) => `${String(e.component_name)},${String(e.component_generation)}`);
  if (sbat.length > 0) rows.push(["sbat", sbat.join(" ")]);
  rows.push(["build-id", id.buildId ?? "(not found)", id.buildId ? undefined : c.dim]);
  if (input.full || id.config) rows.push(["config", id.config ? `${Object.keys(id.config).length} options (CONFIG_IKCONFIG)` : "(not embedded)"]);
  rows.push(["size", sizeText(input.size)]);
  const payload = payloadText(layers);
  if (payload) rows.push(["payload", payload]);
  const memory = memoryText(layers);
  if (memory) rows.push(["memory", memory]);
  const kexec = kexecText(layers);
  if (kexec) rows.push(["kexec", kexec, kexec.startsWith("not") ? c.yellow : undefined]);
  const warnings = layers.flatMap((l) => l.findings.filter((f) => f.severity !== "info").map((f) => f.code));
  if (warnings.length > 0) rows.push(["warnings", `${[...new Set(warnings)].join(", ")} (inspect -v shows them)`, c.yellow]);

  const label = 11; // "signature: ", the widest label, and the values aligned after it
  // The file name as given (like file(1), never cut).
  const lines = [c.bold(input.file)];
  for (const [k, v, paint] of rows) {
    const head = `  ${k ? `${k}:` : ""}`.padEnd(label + 2);
    const text = cut(v, SUMMARY_WIDTH - head.length);
    lines.push(`${c.dim(head)}${paint ? paint(text) : text}`);
  }
  return lines.join("\n");
}
