// ESLint flat config: typescript-eslint's recommended rules, plus the rule
// that keeps the core browser-safe (no `node:` imports outside the Node
// adapters and the CLI).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "fixtures/**", "coverage/**", "test-results/**", "docs-site/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { console: "readonly", process: "readonly", URL: "readonly", TextDecoder: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Scripts and tests run under Node.
    files: ["scripts/**", "test/**"],
    languageOptions: {
      globals: { Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", performance: "readonly", crypto: "readonly", fetch: "readonly" },
    },
  },
  {
    files: ["src/**/*.ts"],
    ignores: ["src/node/**", "src/cli.ts", "src/cli/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["node:*"], message: "The core must stay browser-safe: use src/node/ adapters." }] },
      ],
      "no-restricted-globals": ["error", { name: "Buffer", message: "Use Uint8Array in the core." }, { name: "process", message: "Host facts are arguments." }],
    },
  },
  {
    // The web page (web/ → dist/web/) runs in browsers only: no Node modules, no Node globals.
    files: ["web/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["node:*"], message: "The page runs in browsers: no Node modules." }] }],
      "no-restricted-globals": ["error", { name: "Buffer", message: "Use Uint8Array in the page." }, { name: "process", message: "The page runs in browsers." }],
    },
  },
);
