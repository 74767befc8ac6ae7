import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Faults from "../src/Faults.js"

describe("Faults.parse", () => {
  it("reads every effect of the one-line form", () => {
    expect(Faults.parse("merchantToken:429=30,times=3")).toEqual(
      Either.right({ endpoint: "merchantToken", fault: { status429: { retryAfterSeconds: 30 }, times: 3 } })
    )
    expect(Faults.parse("api: latency=250 , 503")).toEqual(
      Either.right({ endpoint: "api", fault: { latencyMs: 250, errorRate: 1 } })
    )
    expect(Faults.parse("jwks:malformed=html")).toEqual(
      Either.right({ endpoint: "jwks", fault: { malformedBody: "html" } })
    )
    expect(Faults.parse("integratorToken:error-rate=0.5,drop")).toEqual(
      Either.right({ endpoint: "integratorToken", fault: { errorRate: 0.5, dropConnection: true } })
    )
    expect(Faults.parse("api:401=2")).toEqual(
      Either.right({ endpoint: "api", fault: { unauthorizedCount: 2 } })
    )
    expect(Faults.parse("api:429")).toEqual(
      Either.right({ endpoint: "api", fault: { status429: { retryAfterSeconds: 1 } } })
    )
  })

  it("says what is wrong with a bad one", () => {
    const left = (spec: string) => Either.getLeft(Faults.parse(spec))._tag === "Some"
    for (const bad of [
      "token:503",
      "merchantToken",
      "merchantToken:teapot",
      "api:latency=-1",
      "api:error-rate=2",
      "api:error-rate=",
      "api:malformed=xml",
      "api:times=1.5"
    ]) {
      expect({ bad, left: left(bad) }).toEqual({ bad, left: true })
    }
  })
})
