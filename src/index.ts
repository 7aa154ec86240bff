/**
 * kimage: Linux kernel images as layers, signatures and placement plans.
 * This entry point is browser-safe: it imports nothing from `node:`.
 * Node-only helpers (file reading, node:crypto hashing) are in `kimage/node`.
 *
 * @example
 * ```ts
 * import { inspect, authenticodeDigest } from "kimage";
 * const { layers } = await inspect(bytes);
 * const { hex } = await authenticodeDigest(bytes, "sha256");
 * ```
 *
 * @module
 */

export * from "./errors.js";
export { ByteView, toHex, hex, toSafeNumber } from "./bytes.js";
export * from "./hash/index.js";
export * from "./formats/types.js";
export { FORMATS, inspect, probeFormat, type InspectOptions, type InspectResult } from "./formats/table.js";
export * from "./pecoff/spec.js";
export { parsePe, probePe, sectionByName, sectionData, PE_LAYER, type PeFile, type Section, type NamedDataDirectory, type ParsePeOptions } from "./pecoff/parse.js";
export { parseCertificateTable, type CertificateTable, type WinCertificate } from "./pecoff/certificates.js";
export * from "./pecoff/authenticode.js";
export { parseSbat, type SbatEntry, MAX_SBAT_ENTRIES, MAX_SBAT_BYTES } from "./pecoff/sbat.js";
export { classifyStub, type StubKind } from "./pecoff/stub.js";
export { peFormat, peLayer, describeCertificate } from "./pecoff/format.js";
export * from "./signature/pkcs7-info.js";
export * from "./codecs/types.js";
export { decompress, decompressSync, detectCodec, hasCodecHeader, DECODERS, type CodecProviders, type DispatchOptions, type ProvidedDecoder, type GzipInflater } from "./codecs/index.js";
export { crc32 } from "./codecs/crc32.js";

// Formats (issues 4 and 5)
export * from "./zboot/header.js";
export { zbootFormat, zbootLayer } from "./zboot/format.js";
export * from "./arm64/image.js";
export * from "./riscv/image.js";
export * from "./loongarch/image.js";
export { compressedFormats, createCompressedFormats, createCompressedFormat, signedPeCut, gzipFormat, zstdFormat, xzFormat, lz4Format, bzip2Format, lzoFormat, lzmaFormat, type CompressedParseContext, type CompressedFormatOptions, type PeCut } from "./formats/compressed.js";
export * from "./bzimage/index.js";
export * from "./elf/index.js";
export * from "./zimage/index.js";
export * from "./s390/index.js";
export * from "./identity/index.js";

// Signatures (issue 3)
export * from "./signature/verify.js";
export * from "./signature/policy.js";
export * from "./signature/appended.js";
export * from "./signature/shim.js";
export * from "./signature/efi-siglist.js";
export { parseCertificate, type ParsedCertificate, type PublicKeyInfo } from "./signature/x509.js";
export { parseTrustAnchors, pemBlocks, type PemBlock } from "./signature/trust.js";
export * from "./signature/sign.js";
export * from "./signature/sign-appended.js";
export { importSigningKey, privateKeyToPkcs8, readCertificates, type SigningKeyInput, type CertificateInput } from "./signature/keys.js";
export { peChecksum, writePeChecksum } from "./pecoff/checksum.js";

// Plans (issue 6)
export * from "./fdt/index.js";
export * from "./plan/memory.js";
export * from "./plan/memory-parse.js";
export * from "./plan/allocator.js";
export * from "./plan/random.js";
export * from "./plan/types.js";
export { editChosen, buildKexecDtb, type ChosenEdits } from "./plan/chosen.js";
export { planArm64, MIN_KIMG_ALIGN, MAX_PLACEMENT_TRIES, type Arm64PlanInput } from "./plan/arm64.js";
export { innermostImage, type UnwrappedImage } from "./plan/unwrap.js";
