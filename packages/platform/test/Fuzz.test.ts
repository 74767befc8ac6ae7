/**
 * A short round of `pnpm fuzz` inside the test suite: a few thousand generated hostile inputs
 * over every parser at a trust boundary; each must end in a typed error or a valid value.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Fuzz from "./fuzz/targets.js"

describe("fuzz (short round)", () => {
  it("3,000 inputs over every trust-boundary parser: no defect", async () => {
    const report = await Fuzz.run(3_000, 20_261_203)
    expect(report.examples).toEqual([])
    expect(report.defects).toBe(0)
    expect(report.inputs).toBeGreaterThanOrEqual(3_000)
    expect(report.byTarget.map((t) => t.name)).toEqual(Fuzz.all.map((t) => t.target.name))
  }, 120_000)

  it("the harness counts what a parser throws, and what never ends, as defects", async () => {
    const throwing = Fuzz.erase({
      name: "throws",
      boundary: "a parser that throws on some input",
      arbitrary: fc.nat({ max: 9 }),
      check: (n) => {
        if (n % 2 === 0) JSON.parse("{")
      }
    })
    const hanging = Fuzz.erase({
      name: "hangs",
      boundary: "a parser that never answers",
      arbitrary: fc.constant(0),
      check: () => new Promise<void>(() => {})
    })
    const report = await Fuzz.run(20, 1, {
      timeoutMs: 50,
      targets: [
        { target: throwing, weight: 1 },
        { target: hanging, weight: 1 }
      ]
    })
    expect(report.inputs).toBe(20)
    expect(report.byTarget[1]).toEqual({ name: "hangs", inputs: 10, defects: 10 })
    expect(report.byTarget[0]?.defects).toBeGreaterThan(0)
    expect(report.examples[0]).toContain("throws")
  })
})
