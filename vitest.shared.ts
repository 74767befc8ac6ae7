// Tests run on the sources: every `@mobilepay-auth/<package>` import (and its subpaths)
// resolves to `packages/<package>/src`, as `paths` in tsconfig.base.json does for tsc and
// tsx. Published packages resolve to `dist/` through their `exports` instead.
import * as Path from "node:path"

const packages = Path.join(import.meta.dirname, "packages")

export const sourceAliases = [
  { find: /^@mobilepay-auth\/([a-z-]+)$/, replacement: `${packages}/$1/src/index.ts` },
  { find: /^@mobilepay-auth\/([a-z-]+)\/([A-Za-z/]+)$/, replacement: `${packages}/$1/src/$2.ts` }
]

// A test's own limit, not a timing goal: CI runs the projects in parallel on two cores, where
// vitest's 5 s default cuts off tests that pass in a second on a quiet machine. Speed is
// measured by `pnpm bench`, never asserted here.
export const testTimeout = 30_000
