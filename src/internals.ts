/**
 * `kimage/internals`: the lower-level pieces behind the curated API of
 * `kimage` (spec constants, per-format parsers, allocator and protocol
 * builders, codec internals). Browser-safe like the main entry point. No
 * stability promise: names here may change in any release; what a loader or
 * tool author needs is exported from `kimage` itself.
 *
 * @module
 */

export * from "./core/errors.js";
export { ByteView, toHex, hex, toSafeNumber } from "./core/bytes.js";
export * from "./hash/index.js";
export * from "./format/types.js";
export { withHeader, layerHeader } from "./format/layer.js";
export { FORMATS, inspect, probeFormat, type InspectOptions, type InspectResult } from "./inspect/registry.js";
export * from "./formats/pe/spec.js";
export { parsePe, probePe, sectionByName, sectionData, PE_LAYER, type PeFile, type Section, type NamedDataDirectory, type ParsePeOptions } from "./formats/pe/parse.js";
export { parseCertificateTable, type CertificateTable, type WinCertificate } from "./formats/pe/certificates.js";
export * from "./formats/pe/authenticode.js";
export { parseSbat, type SbatEntry, MAX_SBAT_ENTRIES, MAX_SBAT_BYTES } from "./formats/pe/sbat.js";
export { classifyStub, type StubKind } from "./formats/pe/stub.js";
export { peFormat, peLayer, describeCertificate } from "./formats/pe/format.js";
export * from "./cms/pkcs7-info.js";
export * from "./codecs/types.js";
export { decompress, decompressSync, detectCodec, hasCodecHeader, DECODERS, type CodecProviders, type DispatchOptions, type ProvidedDecoder, type GzipInflater } from "./codecs/index.js";
export { crc32 } from "./codecs/crc32.js";

// Formats (issues 4 and 5)
export * from "./formats/zboot/header.js";
export { zbootFormat, zbootLayer } from "./formats/zboot/format.js";
export * from "./formats/arm64/image.js";
export * from "./formats/riscv/image.js";
export * from "./formats/loongarch/image.js";
export { createCompressedFormats, createCompressedFormat, decodedStream, type CompressedParseContext, type CompressedFormatOptions, type DecodedStream } from "./formats/compressed/format.js";
export { compressedFormats, gzipFormat, zstdFormat, xzFormat, lz4Format, bzip2Format, lzoFormat, lzmaFormat, findLayer, type FoundLayer } from "./inspect/registry.js";
export { signedPeCut, type PeCut } from "./formats/pe/padding.js";
export * from "./formats/bzimage/index.js";
export * from "./formats/elf/index.js";
export * from "./formats/zimage/index.js";
export * from "./formats/s390/index.js";
export * from "./inspect/identity.js";

// Signatures (issue 3)
export * from "./signature/verify.js";
export * from "./signature/policy.js";
export * from "./signature/appended.js";
export * from "./signature/shim.js";
export * from "./signature/efi-siglist.js";
export { parseCertificate, type ParsedCertificate, type PublicKeyInfo } from "./cms/certificate.js";
export { parseTrustAnchors, pemBlocks, type PemBlock } from "./signature/trust.js";
export * from "./signature/sign.js";
export * from "./signature/sign-appended.js";
export { importSigningKey, privateKeyToPkcs8, readCertificates, type SigningKeyInput, type CertificateInput } from "./signature/keys.js";
export { peChecksum, writePeChecksum } from "./formats/pe/checksum.js";

// Plans (issue 6)
export * from "./fdt/index.js";
export * from "./plan/core/memory.js";
export * from "./plan/core/memory-parse.js";
export * from "./plan/core/allocator.js";
export * from "./plan/core/memblock.js";
export * from "./plan/core/random.js";
export * from "./plan/core/types.js";
export { MAX_PLACEMENT_TRIES } from "./plan/core/placement.js";
export { PLAN_TABLE, planTableRow, type Plan, type PlanArch, type PlanRequest, type PlanTableRow } from "./plan/table.js";
export { type CrashInput } from "./plan/protocol/kdump.js";
export { editChosen, buildKexecDtb, type ChosenEdits, type DtbBootParams, type DtbPlanInputBase } from "./plan/protocol/chosen.js";
export { planArm64, MIN_KIMG_ALIGN, ARM64_ELFCOREHDR_ALIGN, type Arm64PlanInput, type Arm64CrashInput, type Arm64Plan, type Arm64BootParams } from "./plan/arch/arm64.js";
export { planRiscv, RISCV_PMD_SIZE, RISCV_MAX_PLACEMENT_TRIES, type RiscvPlanInput, type RiscvPlan, type RiscvBootParams } from "./plan/arch/riscv.js";
export { planArm, ARM_KERNEL, ARM_TEXT_OFFSET, ARM_ZIMAGE_STACK_MALLOC, ARM_ULONG_MAX, ARM_ZRELADDR_ALIGN, type ArmPlanInput, type ArmPlan, type ArmBootParams } from "./plan/arch/arm.js";
export { planLoongarch, LOONGARCH_KERNEL, LOONGARCH_KEXEC_CMDLINE_PHYS, LOONGARCH_CACHE_BASE, LOONGARCH_COMMAND_LINE_SIZE, LOONGARCH_MAX_KERNEL_TRIES, type LoongarchPlanInput, type LoongarchPlan, type LoongarchBootParams } from "./plan/arch/loongarch.js";
export { planElf, type ElfPlan, type ElfPlanArch, type ElfPlanInput, type ElfBootParams } from "./plan/arch/elf.js";
export * from "./plan/core/crash.js";
export { buildElfCoreHeaders, elfCoreHeaderSize, vmcoreinfoNoteSize, CRASH_NOTE_BYTES, DEFAULT_PAGE_OFFSET, ELF_CORE_HEADER_ALIGN, CORE_MACHINE, type CoreNoteRange, type ElfCoreInput } from "./plan/protocol/elfcore.js";
export * from "./plan/core/digest.js";
export { planX86_64, x86ProbeAndLoadChecks, x86LoadFields, MIN_BOOTPARAM_ADDR, MIN_KERNEL_LOAD_ADDR, MIN_INITRD_LOAD_ADDR, X86_64_ENTRY_OFFSET, MAX_X86_PLACEMENT_TRIES, X86_RUNNING_KERNELS, type X86PlanInput, type X86CrashHooks, type X86LoadFields, type X86Entry32, type X86Plan, type X86BootParams, type X86KernelPurgatory } from "./plan/arch/x86.js";
export { buildBootParams, bootParamsLayout, e820FromMemoryMap, e820TypeName, setupHeaderSize, kexecCmdlineBytes, BOOT_PARAMS_OFFSETS, SETUP_RNG_SEED, KEXEC_TYPE_OF_LOADER, type BootE820Entry, type BootParamsConfig, type BootParamsLayout, type BootParamsInput, type BuiltBootParams } from "./plan/protocol/bootparams.js";
export { planX86_64Crash, type X86CrashInput } from "./plan/arch/x86-crash.js";
export { planS390, S390_KERNEL, STARTUP_NORMAL_OFFSET, S390_RESTART_PSW_MASK, S390_PAGE_SIZE, PARMAREA_FIELDS, type S390PlanInput, type S390Plan, type S390BootParams, type S390SecureIpl, type S390SignatureInfo } from "./plan/arch/s390.js";
export { planPpc64, PPC64_KERNEL, PPC64_RMA_CAP, PPC64_PAGE_SIZE, type Ppc64PlanInput, type Ppc64Plan, type Ppc64BootParams } from "./plan/arch/ppc64.js";
export { innermostImage, type UnwrappedImage } from "./plan/core/unwrap.js";
export { planSvg, formatSize, MIN_SEGMENT_PX, type PlanSvgOptions } from "./plan/svg.js";

// Unified kernel images (issue 14): the uki layer, profiles, .dtbauto/.hwids, UKI verification
export { UKI_LAYER, UNIFIED_SECTIONS, UKI_SECTION_ROLES, ADDON_SECTIONS, isUnifiedSection, type UnifiedSectionName } from "./formats/pe/uki/spec.js";
export { readUki, parseUki, isUkiPe, isUkiAddonPe, effectiveSections, ukiPart, ukiSectionData, parseOsRelease, sectionText, MAX_UKI_ZERO_FILL, type Uki, type UkiKind, type UkiSection, type UkiProfile, type EffectiveSection, type EffectiveOptions } from "./formats/pe/uki/parse.js";
export { chooseDtbauto, parseHwids, dtbCompatible, type HwidDevice, type DtbautoHost, type DtbautoChoice } from "./formats/pe/uki/dtb.js";
export { ukiFormat, ukiLayer, probeUki } from "./formats/pe/uki/format.js";
export { verifyUki, ukiPartsCoverage, type UkiVerdict, type UkiPartCoverage, type UkiPartCoverageReason } from "./signature/uki.js";
export { ukiPlanInputs, mangleStubCmdline, stubCpioLiteral, combineStubInitrds, ukiPlanRequest, planFromUki, STUB_RULES, type UkiPlanOptions, type UkiPlanInputs, type UkiAddonInput, type UkiInitrdPart, type UkiEnvelopeVerdict } from "./plan/uki.js";
export * from "./plan/protocol/purgatory.js";
export { purgatoryConsoleFromDtb, X86_COM1_PORT } from "./plan/protocol/purgatory-console.js";
export { withPurgatory, PURGATORY_SEGMENT, type PurgatoryOptions, type PurgatoryInfo, type PurgatoryPlan } from "./plan/purgatory.js";
export { kexecLoadCall, KEXEC_ON_CRASH, KEXEC_ARCH_MASK, KEXEC_ARCH, type KexecLoadCall, type KexecLoadSegment } from "./plan/kexec-load.js";

// UKIs: PCR 11 prediction, .pcrsig, the profile rule, uki build (issue 14)
// (src/uki/sections.ts re-exports the uki layer's UNIFIED_SECTIONS and isUnifiedSection from src/formats/pe/uki/spec.ts.)
export { DEVICE_MATCHED_SECTIONS, MAX_UKI_SECTION, isMeasuredSection, sectionMemory, type SectionPlacement } from "./uki/sections.js";
export { profileSections, countProfiles, type ProfileRuleSection } from "./uki/profiles.js";
export { profileSectionSet, type ProfileSetSection, type ProfileSectionSet, type ProfileSectionSetOptions } from "./uki/effective.js";
export { predictPcr11, measuredSections, PCR_KERNEL_BOOT, PCR_PHASE_WORDS, PCR_PHASES, type Pcr11Section, type Pcr11Value, type Pcr11Prediction, type PredictPcr11Options } from "./uki/pcr11.js";
export { verifyPcrSig, parsePcrSig, pcrPolicyDigest, readPcrPublicKey, TPM_CC_POLICY_PCR, TPM_ALG, MAX_PCRSIG, type PcrSig, type PcrSigEntry, type PcrPublicKey, type PcrSigEntryCheck, type PcrSigVerdict, type VerifyPcrSigOptions } from "./uki/pcrsig.js";
export { buildUki, mergeSbat, joinInitrds, SBAT_HEADER, UKI_SBAT, ADDON_SBAT, PROFILE_IMPORTS, type UkiParts } from "./uki/build.js";
export { guessUname } from "./uki/uname.js";
