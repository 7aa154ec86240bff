/**
 * `kimage uki build --stub STUB --linux KERNEL [--initrd FILE]… [--cmdline TEXT|@FILE]
 * [--os-release TEXT|@FILE] [--uname TEXT] [--sbat TEXT|@FILE]… [--devicetree FILE]
 * [--devicetree-auto FILE]… [--splash FILE] [--pcrpkey FILE] [--microcode FILE]
 * [--profile TEXT|@FILE] [--join-profile PE]… [--key KEY --cert CERT] -o OUT`: builds a unified kernel image as ukify
 * lays it out (option names as ukify's), optionally signed with Authenticode.
 *
 * @module
 */

import { signAuthenticode } from "../signature/sign.js";
import { nodeHashProvider } from "../node/hash.js";
import { buildUki, type UkiParts } from "../uki/build.js";
import { readCertificateFiles } from "./certs.js";
import { outputName, readInput, writeOutput } from "./io.js";
import { UsageError, type Command } from "./types.js";

/** ukify's "TEXT or @FILE" arguments. */
async function textOrFile(v: string): Promise<Uint8Array> {
  return v.startsWith("@") ? readInput(v.slice(1)) : new TextEncoder().encode(v);
}

async function readKey(path: string): Promise<Uint8Array | string> {
  const b = await readInput(path);
  const text = new TextDecoder("latin1").decode(b);
  return text.includes("-----BEGIN ") ? text : b;
}

/** The uki command (one action: build). */
export const ukiCommand: Command = {
  name: "uki",
  usage: "uki build --stub STUB [--linux KERNEL] [--initrd FILE]… [--cmdline TEXT|@FILE] [--os-release TEXT|@FILE] [--uname TEXT] [--profile TEXT|@FILE] [--join-profile PE]… [--key KEY --cert CERT] -o OUT",
  summary: "build a unified kernel image as ukify does",
  options: {
    stub: { type: "string" },
    linux: { type: "string" },
    initrd: { type: "string", multiple: true },
    cmdline: { type: "string" },
    "os-release": { type: "string" },
    uname: { type: "string" },
    sbat: { type: "string", multiple: true },
    devicetree: { type: "string" },
    "devicetree-auto": { type: "string", multiple: true },
    splash: { type: "string" },
    pcrpkey: { type: "string" },
    microcode: { type: "string" },
    profile: { type: "string" },
    "join-profile": { type: "string", multiple: true },
    key: { type: "string" },
    cert: { type: "string", multiple: true },
    output: { type: "string", short: "o" },
  },
  placeholders: { profile: "TEXT|@FILE", "join-profile": "PE", sbat: "TEXT|@FILE", devicetree: "FILE", "devicetree-auto": "FILE", splash: "BMP", pcrpkey: "PEM", microcode: "FILE" },
  optionHelp: {
    stub: "systemd-stub (linuxx64.efi.stub, linuxaa64.efi.stub), unsigned",
    linux: "the kernel (.linux)",
    initrd: "an initrd (.initrd; several are joined, each padded to 4 bytes)",
    cmdline: "the kernel command line (.cmdline)",
    "os-release": "os-release (.osrel)",
    uname: "the kernel's uname -r (.uname); default: found in the kernel as ukify finds it",
    sbat: "SBAT text to add (.sbat; default ukify's uki line); merged with the stub's and the kernel's",
    devicetree: "a device tree (.dtb)",
    "devicetree-auto": "a device tree for automatic selection (.dtbauto)",
    splash: "a boot splash (.splash)",
    pcrpkey: "the public key of PCR signatures (.pcrpkey)",
    microcode: "a microcode initrd (.ucode)",
    profile: "the .profile text (ID=…, TITLE=…); without --linux and --join-profile it builds a profile PE (use the addon stub)",
    "join-profile": "a profile PE to join as the next profile (repeatable; the base profile is --profile, default ID=main)",
    key: "sign the UKI with this private key (as kimage sign)",
    cert: "the signer's certificate, then its chain",
    output: "where to write the UKI; - is standard output",
  },
  notes: ["The layout is ukify's (systemd 257): the parts follow the stub's last section in ukify's order; the result equals ukify's byte for byte given the same parts."],
  positionals: ["ACTION"],
  async run({ io, values, positionals }) {
    if (positionals[0] !== "build") throw new UsageError(`uki: unknown action ${JSON.stringify(positionals[0])} (the action is build)`);
    if (!values.stub) throw new UsageError("uki build: --stub is required");
    if (!values.linux && !values.profile && !values.cmdline && !values.devicetree && !values.initrd) throw new UsageError("uki build: --linux is required (or, for an addon or profile PE, --profile, --cmdline, --devicetree or --initrd)");
    if (!values.output) throw new UsageError("uki build: -o OUT is required");
    const certs = (values.cert as string[] | undefined) ?? [];
    if (Boolean(values.key) !== certs.length > 0) throw new UsageError("uki build: --key and --cert go together");
    const str = (k: string) => values[k] as string | undefined;
    const list = (k: string) => (values[k] as string[] | undefined) ?? [];
    const file = async (k: string) => (str(k) !== undefined ? readInput(str(k) as string) : undefined);
    const parts: UkiParts = {};
    if (values.linux) parts.linux = await readInput(String(values.linux));
    if (str("profile") !== undefined) parts.profile = await textOrFile(str("profile") as string);
    if (list("join-profile").length) parts.joinProfiles = await Promise.all(list("join-profile").map((p) => readInput(p)));
    if (str("cmdline") !== undefined) parts.cmdline = await textOrFile(str("cmdline") as string);
    if (str("os-release") !== undefined) parts.osrel = await textOrFile(str("os-release") as string);
    if (str("uname") !== undefined) parts.uname = new TextEncoder().encode(str("uname"));
    if (list("initrd").length) parts.initrd = await Promise.all(list("initrd").map((p) => readInput(p)));
    if (list("sbat").length) parts.sbat = await Promise.all(list("sbat").map(async (t) => new TextDecoder().decode(await textOrFile(t))));
    if (list("devicetree-auto").length) parts.dtbauto = await Promise.all(list("devicetree-auto").map((p) => readInput(p)));
    const dtb = await file("devicetree");
    if (dtb) parts.dtb = dtb;
    const splash = await file("splash");
    if (splash) parts.splash = splash;
    const pcrpkey = await file("pcrpkey");
    if (pcrpkey) parts.pcrpkey = pcrpkey;
    const ucode = await file("microcode");
    if (ucode) parts.ucode = ucode;
    let out = buildUki(await readInput(String(values.stub)), parts);
    if (values.key) {
      out = await signAuthenticode(out, { key: await readKey(String(values.key)), certs: await readCertificateFiles(certs), alg: "sha256", mode: "replace", hash: nodeHashProvider });
    }
    await writeOutput(String(values.output), out, io);
    io.err(`kimage: wrote ${values.key ? "signed " : ""}UKI of ${out.length} bytes to ${outputName(String(values.output))}`);
    return 0;
  },
};
