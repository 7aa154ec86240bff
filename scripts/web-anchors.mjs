// The web page's built-in public trust anchors, derived from Debian
// packages fetched by scripts/fetch-fixtures.sh (fixtures/real/), never
// typed in:
// - "Debian Secure Boot CA": the vendor certificate Debian's shim embeds
//   (shim-signed's shimx64.efi.signed, its .vendor_cert section, read with
//   parseShimVendorCert); Debian's kernels, GRUB and fwupd chain to it;
// - "Microsoft Corporation UEFI CA 2011" and "Microsoft UEFI CA 2023": the
//   PEM files python3-virt-firmware ships (the certificates OVMF's enrolled
//   db holds); they sign shim.
// Each anchor records its package, version and path. Without fixtures the
// list is empty and the page says so.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";

const DIR = "fixtures/real/";

/** The anchors: [{ name, subject, sha256, source, der (base64) }]. */
export async function webAnchors() {
  if (!existsSync(`${DIR}manifest.json`)) return [];
  const { parseShimVendorCert, parseCertificate, pemBlocks } = await import("../dist/internals.js");
  const manifest = JSON.parse(readFileSync(`${DIR}manifest.json`, "utf8")).filter((e) => existsSync(DIR + e.path));
  const out = [];
  const add = (name, der, e, how) => {
    const cert = parseCertificate(der);
    out.push({ name, subject: cert.subject, sha256: createHash("sha256").update(der).digest("hex"), source: `Debian ${e.package} ${e.version} (${e.suite}/${e.arch}), ${e.path.split("/").pop()}${how}`, der: Buffer.from(der).toString("base64") });
  };
  // The newest suite first: trixie before bookworm.
  const shim = manifest.filter((e) => e.package === "shim-signed" && e.arch === "amd64").sort((a, b) => (a.suite < b.suite ? 1 : -1))[0];
  if (shim) {
    const v = parseShimVendorCert(new Uint8Array(readFileSync(DIR + shim.path)));
    for (const der of v?.certificates ?? []) add("Debian Secure Boot CA (shim's vendor certificate)", der, shim, ": its .vendor_cert section");
  }
  for (const [file, name] of [
    ["MicrosoftCorporationUEFICA2011.pem", "Microsoft Corporation UEFI CA 2011"],
    ["MicrosoftUEFICA2023.pem", "Microsoft UEFI CA 2023"],
  ]) {
    const e = manifest.find((m) => m.package === "python3-virt-firmware" && m.path.endsWith(`/${file}`));
    if (!e) continue;
    for (const b of pemBlocks(readFileSync(DIR + e.path, "latin1"))) if (b.label === "CERTIFICATE") add(name, b.der, e, "");
  }
  return out;
}
