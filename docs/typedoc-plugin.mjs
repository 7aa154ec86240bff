// A TypeDoc plugin for one link TypeDoc cannot resolve: a TSDoc comment in
// src/format/types.ts links to withHeader, which is exported only from
// kimage/internals (no stability promise, not in these docs). Like the
// externalSymbolLinkMappings in typedoc.json, it links to the current page,
// so the build stays free of warnings without hiding other broken links.
const INTERNAL_ONLY = new Set(["withHeader"]);

/** @param {import("typedoc").Application} app */
export function load(app) {
  app.converter.addUnknownSymbolResolver((ref) => {
    const name = ref.symbolReference?.path?.map((p) => p.path).join(".");
    if (ref.moduleSource === undefined && name && INTERNAL_ONLY.has(name)) return "#";
    return undefined;
  });
}
