/**
 * The exported symbols of a TypeScript entry point, values and types, with
 * whether each carries TSDoc: read with the TypeScript compiler API, as a
 * consumer's `import { … } from "kimage"` would see them.
 */
import ts from "typescript";

/** One export of an entry point. */
export interface ApiSymbol {
  name: string;
  kind: "value" | "type";
  /** The file that declares it, relative to the repository. */
  file: string;
  /** True when its declaration carries a TSDoc comment. */
  documented: boolean;
}

/** The exports of `entry` (a .ts path), sorted by name. */
export function apiSurface(entry: string, root: string): ApiSymbol[] {
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(entry);
  const mod = sf && checker.getSymbolAtLocation(sf);
  if (!mod) throw new Error(`no module symbol for ${entry}`);
  return checker
    .getExportsOfModule(mod)
    .map((e) => {
      const target = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
      const decl = target.declarations?.[0];
      return {
        name: e.name,
        kind: (target.flags & ts.SymbolFlags.Value) !== 0 ? ("value" as const) : ("type" as const),
        file: decl ? decl.getSourceFile().fileName.replace(root, "") : "?",
        documented: target.getDocumentationComment(checker).some((d) => d.text.trim().length > 0),
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
