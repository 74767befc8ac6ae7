/**
 * The published shape of every workspace package, derived from its sources so that it cannot
 * drift: `exports` has `.` and one subpath per public module (`src/X.ts` -> `./X`, as
 * `@effect/platform` does), each with `types` and `import` under `dist/`. `internal/` stays
 * private. `tsx scripts/packages.ts` checks (run by `pnpm check`); `--write` updates the
 * manifests.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const packagesDir = Path.join(root, "packages")
const write = process.argv.includes("--write")

interface Conditions {
  readonly types: string
  readonly import: string
}

const entry = (module: string): Conditions => ({
  types: `./dist/${module}.d.ts`,
  import: `./dist/${module}.js`
})

// Entry points that are programs, not modules to import.
const notExported = new Set(["bin"])

const expectedExports = (dir: string): Record<string, Conditions | string> => {
  const modules = Fs.readdirSync(Path.join(dir, "src"))
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => f.slice(0, -3))
    .filter((m) => m !== "index" && !notExported.has(m))
    .sort()
  const exports: Record<string, Conditions | string> = { ".": entry("index") }
  for (const m of modules) exports[`./${m}`] = entry(m)
  exports["./package.json"] = "./package.json"
  return exports
}

const problems: Array<string> = []
for (const name of Fs.readdirSync(packagesDir).sort()) {
  const dir = Path.join(packagesDir, name)
  const manifestPath = Path.join(dir, "package.json")
  if (!Fs.existsSync(manifestPath)) continue
  const manifest = JSON.parse(Fs.readFileSync(manifestPath, "utf8")) as Record<string, unknown>
  if (manifest.private === true) continue
  const wanted = expectedExports(dir)
  if (!Fs.existsSync(Path.join(dir, "src/index.ts"))) problems.push(`${name}: src/index.ts is missing`)
  if (JSON.stringify(manifest.exports) !== JSON.stringify(wanted)) {
    if (write) {
      manifest.exports = wanted
      Fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`)
      console.log(`${name}: exports updated`)
    } else {
      problems.push(
        `${name}: package.json exports differ from src/ (run: pnpm exec tsx scripts/packages.ts --write)`
      )
    }
  }
  for (const field of ["files", "peerDependencies", "publishConfig"]) {
    if (!(field in manifest)) problems.push(`${name}: no "${field}"`)
  }
  const deps = (manifest.dependencies ?? {}) as Record<string, string>
  for (const dep of Object.keys(deps)) {
    if (dep === "effect" || dep.startsWith("@effect/")) {
      problems.push(`${name}: ${dep} must be a peer dependency (one copy of Effect per application)`)
    }
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(p)
  process.exit(1)
}
console.log("package manifests: ok")
