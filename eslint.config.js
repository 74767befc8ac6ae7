// @ts-check
import js from "@eslint/js"
import prettier from "eslint-config-prettier"
import tseslint from "typescript-eslint"

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      ".packs/**",
      "coverage/**",
      "docs/.blocks/**",
      "docs/api/**",
      "bench/results.json"
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-empty-object-type": "off"
    }
  },
  {
    // The domain package is pure: no I/O modules.
    files: ["packages/domain/src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*", "fs", "http", "https", "net"], message: "domain is pure: no Node APIs" },
            { group: ["@effect/*", "better-sqlite3", "pg"], message: "domain imports effect only" }
          ]
        }
      ]
    }
  },
  {
    // Plain Node ESM (the consumer test's app, the CLI's launcher).
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: {
      globals: {
        console: "readonly",
        process: "readonly",
        Buffer: "readonly",
        Headers: "readonly",
        Request: "readonly",
        URL: "readonly"
      }
    }
  },
  prettier
)
