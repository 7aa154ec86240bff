/**
 * The PE/COFF entry of the probe table: turns a {@link PeFile} into a
 * JSON-ready {@link Layer} that keeps the `PeFile` as its typed header, and
 * trims the zero padding after a decoded signed PE (the `trimPadding` hook,
 * `padding.ts`).
 *
 * @module
 */

import { hex, toHex } from "../../core/bytes.js";
import { isKimageError, type Finding } from "../../core/errors.js";
import type { FormatModule, JsonValue, Layer } from "../../format/types.js";
import { withHeader } from "../../format/layer.js";
import { readAuthenticodeInfo } from "../../cms/pkcs7-info.js";
import { PE_LAYER, parsePe, probePe, type PeFile } from "./parse.js";
import { peTrimPadding } from "./padding.js";
import { parseSbat } from "./sbat.js";
import {
  DLL_CHARACTERISTICS,
  FILE_CHARACTERISTICS,
  SECTION_CHARACTERISTICS,
  flagNames,
  machineName,
  subsystemName,
} from "./spec.js";
import { classifyStub } from "./stub.js";
import type { WinCertificate } from "./certificates.js";
import { isUkiAddonPe, isUkiPe } from "./uki/parse.js";

/** What a certificate entry's PKCS#7 says, JSON-ready, or the reason it could not be read. */
export function describeCertificate(entry: WinCertificate): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {
    index: entry.index,
    offset: entry.offset,
    dwLength: entry.dwLength,
    wRevision: hex(entry.wRevision),
    wCertificateType: hex(entry.wCertificateType),
    type: entry.typeName,
  };
  try {
    const info = readAuthenticodeInfo(entry.bCertificate, entry.contentOffset);
    out.digestAlgorithm = info.digestAlgorithm;
    out.digest = toHex(info.digest);
    out.signers = info.signers.map((s) => ({
      commonName: s.signerCN ?? null,
      issuer: s.issuer ?? null,
      serialNumber: s.serialNumber ?? null,
      signingTime: s.signingTime ? s.signingTime.toISOString() : null,
      nestedSignatures: s.nestedSignatureCount,
    }));
    out.certificates = info.certificates.map((c) => c.subject);
    out.trailingBytes = info.trailingBytes;
  } catch (e) {
    if (!isKimageError(e)) throw e;
    out.error = e.toJSON();
  }
  return out;
}

function bigints(o: object): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const [k, v] of Object.entries(o)) out[k] = typeof v === "bigint" ? hex(v) : (v as JsonValue);
  return out;
}

/** Builds the JSON-ready layer of a parsed PE; its typed header is `pe`. */
export function peLayer(pe: PeFile, offset: number): Layer<PeFile> {
  const findings: Finding[] = [...pe.findings];
  const stub = classifyStub(pe);
  const sbatSection = pe.sections.find((s) => s.Name === ".sbat");
  const sbat = sbatSection && sbatSection.PointerToRawData + sbatSection.SizeOfRawData <= pe.bytes.length ? parseSbat(pe, findings) : null;
  const certificates = pe.certificateTable?.entries.map(describeCertificate) ?? [];
  const fields: { [key: string]: JsonValue } = {
    machine: machineName(pe.coff.Machine),
    peFormat: pe.format,
    subsystem: subsystemName(pe.optional.Subsystem),
    stub,
    e_lfanew: pe.e_lfanew,
    coff: { ...bigints(pe.coff), CharacteristicsFlags: flagNames(pe.coff.Characteristics, FILE_CHARACTERISTICS) },
    optional: {
      ...bigints(pe.optional),
      DllCharacteristicsFlags: flagNames(pe.optional.DllCharacteristics, DLL_CHARACTERISTICS),
    },
    dataDirectories: pe.dataDirectories.map((d) => ({
      index: d.index,
      name: d.name,
      VirtualAddress: d.VirtualAddress,
      Size: d.Size,
    })),
    sections: pe.sections.map((s) => ({
      index: s.index,
      name: s.Name,
      VirtualSize: s.VirtualSize,
      VirtualAddress: s.VirtualAddress,
      SizeOfRawData: s.SizeOfRawData,
      PointerToRawData: s.PointerToRawData,
      Characteristics: hex(s.Characteristics),
      flags: flagNames(s.Characteristics, SECTION_CHARACTERISTICS),
    })),
    certificateTable: pe.certificateTable
      ? { offset: pe.certificateTable.offset, size: pe.certificateTable.size }
      : null,
    certificates,
    sbat: sbat ? sbat.map((e) => ({ ...e, component_generation: Number.isNaN(e.component_generation) ? null : e.component_generation })) : null,
  };
  const signed = certificates.length;
  const summary = `${pe.format === "pe32" ? "PE32" : "PE32+"} ${machineName(pe.coff.Machine)} ${subsystemName(pe.optional.Subsystem)}, ${pe.sections.length} section(s), ${signed === 0 ? "unsigned" : `${signed} signature(s)`}${stub ? `, EFI stub for ${stub}` : ""}`;
  const layer: Layer = { format: PE_LAYER, offset, size: pe.fileSize ?? pe.bytes.length, summary, fields, findings };
  // An EFI stub shares its bytes with the format it fronts: the next layer parses the same bytes.
  // So does a UKI (or UKI addon): the `uki` layer reads the same PE's sections.
  if (stub || isUkiPe(pe) || isUkiAddonPe(pe)) layer.payload = { bytes: pe.bytes, offset, ...(pe.fileSize !== undefined ? { fileSize: pe.fileSize } : {}) };
  return withHeader(layer, pe);
}

/**
 * The PE/COFF format module. Layers carry the {@link PeFile}; decoded signed
 * PEs lose the zero padding after their certificate table
 * ({@link peTrimPadding}).
 */
export const peFormat: FormatModule<PeFile> = {
  id: PE_LAYER,
  description: "PE/COFF image (EFI application, Linux EFI stub)",
  probe: probePe,
  parse(bytes, ctx) {
    return peLayer(parsePe(bytes, { base: Math.max(ctx.offset, 0), ...(ctx.fileSize !== undefined ? { fileSize: ctx.fileSize } : {}) }), ctx.offset);
  },
  trimPadding: peTrimPadding,
};
