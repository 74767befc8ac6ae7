// The one list of test projects. `vitest.config.ts` feeds it to `test.projects`
// (vitest 3.2 deprecates loading workspace files directly).
export default [
  "packages/domain",
  "packages/adapters",
  "packages/platform",
  "packages/sql-integration",
  "packages/sql-sqlite",
  "packages/sql-pg",
  "packages/sandbox",
  "packages/cli"
]
