/**
 * Packs every public workspace package into `.packs/` with `pnpm pack` (which turns
 * `workspace:^` into the real version range), exactly as `pnpm publish` would upload it.
 * Run `pnpm build` first. Prints each tarball with its size. Used by the packaging linters
 * (`scripts/lint-packages.ts`) and the consumer test (`scripts/consumer-test.sh`).
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
export const packsDir = Path.join(root, ".packs")

export interface Packed {
  readonly name: string
  readonly dir: string
  readonly tarball: string
  readonly bytes: number
}

export const publicPackages = (): ReadonlyArray<{ readonly name: string; readonly dir: string }> =>
  Fs.readdirSync(Path.join(root, "packages"))
    .sort()
    .map((d) => Path.join(root, "packages", d))
    .filter((dir) => Fs.existsSync(Path.join(dir, "package.json")))
    .map((dir) => ({ dir, manifest: JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8")) }))
    .filter(({ manifest }) => manifest.private !== true)
    .map(({ dir, manifest }) => ({ name: String(manifest.name), dir }))

export const packAll = (): ReadonlyArray<Packed> => {
  Fs.rmSync(packsDir, { recursive: true, force: true })
  Fs.mkdirSync(packsDir, { recursive: true })
  return publicPackages().map(({ name, dir }) => {
    if (!Fs.existsSync(Path.join(dir, "dist", "index.js"))) {
      throw new Error(`${name}: dist/index.js is missing; run pnpm build first`)
    }
    const before = new Set(Fs.readdirSync(packsDir))
    execFileSync("pnpm", ["pack", "--pack-destination", packsDir], {
      cwd: dir,
      stdio: ["ignore", "ignore", "inherit"]
    })
    const created = Fs.readdirSync(packsDir).filter((f) => !before.has(f) && f.endsWith(".tgz"))
    if (created.length !== 1) throw new Error(`${name}: expected one tarball, got ${created.join(", ")}`)
    const tarball = Path.join(packsDir, created[0] ?? "")
    return { name, dir, tarball, bytes: Fs.statSync(tarball).size }
  })
}

if (import.meta.filename === process.argv[1]) {
  for (const p of packAll()) {
    console.log(
      `${p.name.padEnd(28)} ${(p.bytes / 1024).toFixed(1).padStart(7)} kB  ${Path.relative(root, p.tarball)}`
    )
  }
}
