/**
 * shim's built-in vendor keys: the `.vendor_cert` section, laid out by
 * shim's cert.S as a `struct cert_table` (shim include/types.h) followed by
 * the data it points at:
 *
 * ```
 * struct cert_table {
 *     UINT32 vendor_authorized_size;
 *     UINT32 vendor_deauthorized_size;
 *     UINT32 vendor_authorized_offset;    // from the start of cert_table
 *     UINT32 vendor_deauthorized_offset;  // from the start of cert_table
 * };
 * ```
 *
 * `vendor_authorized` is one DER certificate (VENDOR_CERT_FILE) or, when
 * shim is built with VENDOR_DB_FILE, EFI signature lists (a vendor `db`);
 * `vendor_deauthorized` is EFI signature lists (VENDOR_DBX_FILE, the vendor
 * `dbx`). This is where the Debian Secure Boot CA lives in Debian's shim.
 *
 * @module
 */

import { ByteView } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
import { TAG, readTlv } from "../asn1/der.js";
import { parsePe, sectionByName, type PeFile } from "../formats/pe/parse.js";
import { efiSignatureDatabase, parseEfiSignatureLists, type EfiSignatureDatabase, type EfiSignatureList } from "./efi-siglist.js";

/** Layer id of errors about `.vendor_cert`. */
export const SHIM_LAYER = "shim-vendor-cert";

/** Size of `struct cert_table`. */
export const SHIM_CERT_TABLE_SIZE = 16;

/** What a shim binary authorizes and revokes on its own. */
export interface ShimVendorCert {
  /** Absolute offset of the `.vendor_cert` section's raw data. */
  offset: number;
  /** The `struct cert_table` fields. */
  table: {
    vendor_authorized_size: number;
    vendor_deauthorized_size: number;
    vendor_authorized_offset: number;
    vendor_deauthorized_offset: number;
  };
  /** `x509` (VENDOR_CERT_FILE), `efi-signature-list` (VENDOR_DB_FILE) or `none` (size 0). */
  authorizedKind: "x509" | "efi-signature-list" | "none";
  /** The vendor_authorized bytes (a view). */
  authorized: Uint8Array;
  /** The vendor_deauthorized bytes (a view). */
  deauthorized: Uint8Array;
  /** The authorized DER certificates (the one VENDOR_CERT, or the X.509 entries of the vendor db). */
  certificates: Uint8Array[];
  /** The vendor db's lists when `authorizedKind` is `efi-signature-list`. */
  authorizedLists: EfiSignatureList[];
  /** The vendor dbx's lists. */
  deauthorizedLists: EfiSignatureList[];
  /** The vendor dbx sorted by use (image hashes, certificates, TBS hashes), ready for `options.deny`. */
  dbx: EfiSignatureDatabase;
}

/**
 * Reads shim's `.vendor_cert` section (see the module documentation) from a
 * PE (bytes or parsed). Returns null when the image has no such section.
 * Sizes and offsets are checked against the section's raw data (bounded by
 * min(VirtualSize, SizeOfRawData) when VirtualSize is set).
 *
 * @throws KimageError `truncated` when the table or the data it points at
 *   runs past the section, or when the EFI signature lists are malformed;
 *   parse errors of {@link parsePe}.
 */
export function parseShimVendorCert(input: Uint8Array | PeFile): ShimVendorCert | null {
  const pe = input instanceof Uint8Array ? parsePe(input) : input;
  const sec = sectionByName(pe, ".vendor_cert");
  if (!sec) return null;
  const size = sec.VirtualSize > 0 ? Math.min(sec.VirtualSize, sec.SizeOfRawData) : sec.SizeOfRawData;
  const base = pe.base + sec.PointerToRawData;
  const data = pe.bytes.subarray(sec.PointerToRawData, sec.PointerToRawData + size);
  const v = new ByteView(data, SHIM_LAYER, base);
  v.need(0, SHIM_CERT_TABLE_SIZE, "struct cert_table");
  const table = {
    vendor_authorized_size: v.u32le(0, "vendor_authorized_size"),
    vendor_deauthorized_size: v.u32le(4, "vendor_deauthorized_size"),
    vendor_authorized_offset: v.u32le(8, "vendor_authorized_offset"),
    vendor_deauthorized_offset: v.u32le(12, "vendor_deauthorized_offset"),
  };
  const authorized = table.vendor_authorized_size === 0 ? new Uint8Array(0) : v.slice(table.vendor_authorized_offset, table.vendor_authorized_size, "vendor_authorized");
  const deauthorized = table.vendor_deauthorized_size === 0 ? new Uint8Array(0) : v.slice(table.vendor_deauthorized_offset, table.vendor_deauthorized_size, "vendor_deauthorized");

  let authorizedKind: ShimVendorCert["authorizedKind"] = "none";
  let certificates: Uint8Array[] = [];
  let authorizedLists: EfiSignatureList[] = [];
  if (authorized.length > 0) {
    if (isOneDerSequence(authorized)) {
      authorizedKind = "x509";
      certificates = [authorized];
    } else {
      authorizedKind = "efi-signature-list";
      authorizedLists = parseEfiSignatureLists(authorized, { base: base + table.vendor_authorized_offset });
      certificates = efiSignatureDatabase(authorizedLists).certificates;
    }
  }
  const deauthorizedLists = deauthorized.length > 0 ? parseEfiSignatureLists(deauthorized, { base: base + table.vendor_deauthorized_offset }) : [];
  return {
    offset: base,
    table,
    authorizedKind,
    authorized,
    deauthorized,
    certificates,
    authorizedLists,
    deauthorizedLists,
    dbx: efiSignatureDatabase(deauthorizedLists),
  };
}

/** True when `b` is exactly one DER SEQUENCE (a certificate, as cert.S includes VENDOR_CERT_FILE verbatim). */
function isOneDerSequence(b: Uint8Array): boolean {
  if (b[0] !== TAG.SEQUENCE) return false;
  try {
    return readTlv(b, 0, { layer: SHIM_LAYER }).raw.length === b.length;
  } catch (e) {
    if (e instanceof KimageError) return false;
    throw e;
  }
}
