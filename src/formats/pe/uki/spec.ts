/**
 * The PE sections a unified kernel image (UKI) and a UKI addon carry, as the
 * UAPI "Unified Kernel Image (UKI)" specification and systemd-stub(7) name
 * them.
 *
 * @module
 */

/** The id of the UKI layer. */
export const UKI_LAYER = "uki";

/**
 * The UKI sections in systemd-stub's canonical order (src/boot/uki.h,
 * `enum UnifiedSection`: "This is the canonical order in which we measure
 * the sections into TPM PCR 11. PLEASE DO NOT REORDER!").
 */
export const UNIFIED_SECTIONS = [
  ".linux",
  ".osrel",
  ".cmdline",
  ".initrd",
  ".ucode",
  ".splash",
  ".dtb",
  ".uname",
  ".sbat",
  ".pcrsig",
  ".pcrpkey",
  ".profile",
  ".dtbauto",
  ".hwids",
  ".efifw",
] as const;

/** A section name of {@link UNIFIED_SECTIONS}. */
export type UnifiedSectionName = (typeof UNIFIED_SECTIONS)[number];

/** The role of each UKI section, in the words of the UKI specification. */
export const UKI_SECTION_ROLES: Readonly<Record<UnifiedSectionName, string>> = {
  ".linux": "kernel", // "The ELF or PE Linux kernel image"
  ".osrel": "os-release", // "OS release information, i.e. the contents of the os-release file"
  ".cmdline": "cmdline", // "The kernel command line to pass to the invoked kernel"
  ".initrd": "initrd", // "The initrd to pass to the invoked kernel"
  ".ucode": "ucode", // "Microcode update, prepended to the initrd"
  ".splash": "splash", // "A picture to display during boot"
  ".dtb": "devicetree", // "Compiled Devicetree"
  ".uname": "uname", // "uname -r output"
  ".sbat": "sbat", // "SBAT revocation metadata"
  ".pcrsig": "pcrsig", // "PCR signature (JSON)"
  ".pcrpkey": "pcrpkey", // "The public key matching the private key used to sign the PCR signature"
  ".profile": "profile", // "Profile metadata: starts a new profile"
  ".dtbauto": "devicetree-auto", // "Compiled Devicetree for automatic selection"
  ".hwids": "hwids", // "Hardware ids for .dtbauto selection"
  ".efifw": "efi-firmware", // "Firmware images for automatic selection"
};

/**
 * The sections systemd-stub reads from an addon (`*.addon.efi`): systemd-stub(7),
 * "UKI add-ons ... may contain the .cmdline, .dtb, .dtbauto, .initrd and .ucode
 * sections"; the rule for kimage is the four long-standing ones.
 */
export const ADDON_SECTIONS: readonly UnifiedSectionName[] = [".cmdline", ".dtb", ".initrd", ".ucode"];

/** True when `name` is one of {@link UNIFIED_SECTIONS}. */
export function isUnifiedSection(name: string): name is UnifiedSectionName {
  return (UNIFIED_SECTIONS as readonly string[]).includes(name);
}

/**
 * The `.hwids` device entry (src/boot/chid.h, `Device` for
 * `DEVICE_TYPE_DEVICETREE`): "uint32_t descriptor, EFI_GUID chid, uint32_t
 * name_offset, uint32_t compatible_offset"; the table ends with an all-zero
 * entry and the strings follow it.
 */
export const HWID_DEVICE_SIZE = 4 + 16 + 4 + 4;
/** `DEVICE_TYPE_DEVICETREE` in the top four bits of `descriptor`. */
export const DEVICE_TYPE_DEVICETREE = 1;
/** At most this many `.hwids` entries are read. */
export const MAX_HWID_DEVICES = 4096;
/** At most this many `.profile` sections are listed. */
export const MAX_PROFILES = 256;
