/**
 * `pnpm fuzz`: at least 100,000 generated hostile inputs over every parser at a trust boundary
 * (token responses, error bodies, callbacks, discovery documents, JWKS, VATs, store rows,
 * configuration strings, headers and claims). Expected outcome of each: a typed error or a
 * valid value; never an exception, a defect, a hang or unbounded memory. Prints the input and
 * defect counts and exits non-zero on any defect. `FUZZ_INPUTS` and `FUZZ_SEED` override the
 * defaults.
 */
import { run } from "../packages/platform/test/fuzz/targets.js"

const total = Number(process.env["FUZZ_INPUTS"] ?? 100_000)
const seed = Number(process.env["FUZZ_SEED"] ?? Date.now() % 2_147_483_647)
const started = performance.now()
console.log(`fuzzing ${total} inputs, seed ${seed}`)
const report = await run(total, seed, { onProgress: (line) => console.log(`  ${line}`) })
for (const example of report.examples) console.log(`  defect: ${example}`)
console.log(
  `${report.inputs} inputs, ${report.defects} defects, peak RSS ${Math.round(report.maxRssBytes / 2 ** 20)} MiB, ${Math.round((performance.now() - started) / 1000)} s`
)
process.exitCode = report.defects === 0 ? 0 : 1
