/**
 * Choosing a `.dtbauto` the way systemd-stub does (src/boot/pe.c,
 * `pe_use_this_dtb`; src/boot/devicetree.c; src/boot/chid.c): by the first
 * `compatible` string of the firmware's device tree, or, when the firmware
 * has none, by the device the `.hwids` table names for the machine's CHIDs.
 * The host facts (the first kernel's DT, the machine's CHIDs) are arguments.
 *
 * @module
 */

import { ByteView } from "../../../core/bytes.js";
import { isKimageError } from "../../../core/errors.js";
import { parseFdt } from "../../../fdt/parse.js";
import { getStringList } from "../../../fdt/tree.js";
import { DEVICE_TYPE_DEVICETREE, HWID_DEVICE_SIZE, MAX_HWID_DEVICES, UKI_LAYER } from "./spec.js";
import { ukiSectionData, type Uki, type UkiSection } from "./parse.js";

/** One device of a `.hwids` table. */
export interface HwidDevice {
  /** The CHID, as a lowercase UUID string (the EFI_GUID's mixed-endian bytes read as such). */
  chid: string;
  /** The device's name. */
  name: string;
  /** The `compatible` string its `.dtbauto` must carry first. */
  compatible: string;
}

function guidString(b: Uint8Array): string {
  const h = (i: number): string => (b[i] as number).toString(16).padStart(2, "0");
  // EFI_GUID: Data1 (le32), Data2 (le16), Data3 (le16), Data4[8].
  return `${h(3)}${h(2)}${h(1)}${h(0)}-${h(5)}${h(4)}-${h(7)}${h(6)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}

function cString(v: ByteView, bytes: Uint8Array, off: number, field: string): string {
  v.need(off, 1, field);
  const end = bytes.indexOf(0, off);
  if (end < 0) v.need(off, bytes.length - off + 1, `${field} (no NUL terminator)`);
  return new TextDecoder().decode(bytes.subarray(off, end));
}

/**
 * The devices of a `.hwids` section: "uint32_t descriptor, EFI_GUID chid,
 * uint32_t name_offset, uint32_t compatible_offset", up to an all-zero
 * entry; the offsets are from the start of the section. Entries of another
 * device type are skipped (the descriptor's top four bits, as
 * `DEVICE_TYPE_FROM_DESCRIPTOR`).
 *
 * @throws KimageError `truncated` when an entry or string runs past the section.
 */
export function parseHwids(data: Uint8Array, offset = 0): HwidDevice[] {
  const v = new ByteView(data, UKI_LAYER, offset);
  const out: HwidDevice[] = [];
  for (let i = 0; i < MAX_HWID_DEVICES; i++) {
    const at = i * HWID_DEVICE_SIZE;
    const descriptor = v.u32le(at, "descriptor");
    if (descriptor === 0) return out;
    v.need(at, HWID_DEVICE_SIZE, "Device");
    if (descriptor >>> 28 !== DEVICE_TYPE_DEVICETREE) continue;
    out.push({
      chid: guidString(data.subarray(at + 4, at + 20)),
      name: cString(v, data, v.u32le(at + 20, "name_offset"), "name"),
      compatible: cString(v, data, v.u32le(at + 24, "compatible_offset"), "compatible"),
    });
  }
  return out;
}

/**
 * The first string of a device tree's root `compatible` ("Only matches the
 * first compatible string from each DT"), or null when the blob is not a
 * readable DT or has none.
 */
export function dtbCompatible(dtb: Uint8Array): string | null {
  try {
    return getStringList(parseFdt(dtb).root, "compatible")?.[0] ?? null;
  } catch (e) {
    if (isKimageError(e)) return null;
    throw e;
  }
}

/** The host facts a `.dtbauto` choice needs. */
export interface DtbautoHost {
  /** The firmware's (first kernel's) device tree blob; when given, matching is by its first `compatible`. */
  firmwareDtb?: Uint8Array;
  /** Or that `compatible` string directly. */
  compatible?: string;
  /** Without a DT: the machine's CHIDs, most specific first (as `chid_match` walks them). */
  chids?: readonly string[];
}

/** The result of {@link chooseDtbauto}. */
export interface DtbautoChoice {
  /** The chosen `.dtbauto`, or null. */
  section: UkiSection | null;
  /** How it was matched. */
  by: "compatible" | "hwid" | null;
  /** The `compatible` string matched against. */
  compatible: string | null;
  /** For a hwid match: the device of `.hwids`. */
  device: HwidDevice | null;
}

/**
 * The `.dtbauto` systemd-stub would pick for a profile (undefined: the
 * base). Within a range "First matching section wins"; a profile's match
 * overrides the base's. With a firmware DT its first `compatible` is used
 * (`devicetree_match`); without one the `.hwids` of the same range maps the
 * first of `chids` that names a device to that device's `compatible`
 * (`chid_match`, then `devicetree_match_by_compatible`).
 */
export function chooseDtbauto(uki: Uki, host: DtbautoHost, profile?: number): DtbautoChoice {
  const none: DtbautoChoice = { section: null, by: null, compatible: null, device: null };
  const inRanges: (number | null)[] = profile !== undefined && uki.profiles.length > 0 ? [profile, null] : [null];
  const fwCompat = host.compatible ?? (host.firmwareDtb ? dtbCompatible(host.firmwareDtb) : null);
  for (const range of inRanges) {
    const candidates = uki.sections.filter((s) => s.name === ".dtbauto" && s.profile === range);
    let compatible = fwCompat;
    let device: HwidDevice | null = null;
    let by: DtbautoChoice["by"] = "compatible";
    if (compatible === null && host.chids) {
      const hw = uki.sections.find((s) => s.name === ".hwids" && s.profile === range) ?? uki.sections.find((s) => s.name === ".hwids" && s.profile === null);
      if (!hw) continue;
      let devices: HwidDevice[];
      try {
        devices = parseHwids(ukiSectionData(uki, hw), hw.offset);
      } catch (e) {
        if (isKimageError(e)) continue;
        throw e;
      }
      for (const chid of host.chids) {
        device = devices.find((d) => d.chid === chid.toLowerCase()) ?? null;
        if (device) break;
      }
      if (!device) continue;
      compatible = device.compatible;
      by = "hwid";
    }
    if (compatible === null) continue;
    for (const s of candidates) {
      if (dtbCompatible(ukiSectionData(uki, s)) === compatible) return { section: s, by, compatible, device };
    }
  }
  return none;
}
