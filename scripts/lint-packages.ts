/**
 * The packaging linters, on the tarballs as they would be published (run `pnpm build` first):
 * publint (the manifest against the packed files, warnings treated as errors) and
 * @arethetypeswrong/cli (types resolve for every entry point under Node's ESM resolution and
 * bundlers; the packages are ESM-only by design, hence the `esm-only` profile). Exits non-zero
 * on any finding.
 */
import { publint } from "publint"
import { formatMessage } from "publint/utils"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { packAll } from "./pack.js"

const root = Path.resolve(import.meta.dirname, "..")
const attw = Path.join(root, "node_modules", ".bin", "attw")

let failures = 0
for (const packed of packAll()) {
  const tarball = Fs.readFileSync(packed.tarball)
  const manifest = JSON.parse(Fs.readFileSync(Path.join(packed.dir, "package.json"), "utf8"))
  const { messages } = await publint({
    pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
    level: "suggestion",
    strict: true
  })
  for (const message of messages) {
    console.error(
      `publint ${packed.name} [${message.type}] ${formatMessage(message, manifest) ?? message.code}`
    )
  }
  failures += messages.length

  const result = spawnSync(attw, [packed.tarball, "--profile", "esm-only", "--format", "ascii"], {
    encoding: "utf8"
  })
  if (result.status !== 0) {
    console.error(`attw ${packed.name}:\n${result.stdout}${result.stderr}`)
    failures++
  }
  console.log(
    `${packed.name.padEnd(28)} ${(packed.bytes / 1024).toFixed(1).padStart(7)} kB  publint: ${messages.length === 0 ? "ok" : `${messages.length} finding(s)`}, attw: ${result.status === 0 ? "ok" : "failed"}`
  )
}
if (failures > 0) {
  console.error(`${failures} packaging problem(s)`)
  process.exit(1)
}
