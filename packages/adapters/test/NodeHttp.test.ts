import { describe, expect, it } from "@effect/vitest"
import { NodeHttp } from "@mobilepay-auth/adapters"
import { consentContract, type Listener, serve } from "./harness.js"

const app = (source: Parameters<typeof NodeHttp.callback>[0]): Listener => {
  const begin = NodeHttp.begin(source, (req) => ({
    merchantVat: new URL(req.url ?? "/", "http://localhost").searchParams.get("vat") ?? "DK12345678"
  }))
  const callback = NodeHttp.callback(source)
  return (req, res) => {
    if (req.url?.startsWith("/consent")) return void begin(req, res)
    if (req.url?.startsWith("/callback")) return void callback(req, res)
    res.writeHead(404).end()
  }
}

describe("Node (req, res) adapter", () => {
  consentContract("node:http", app, 200, async (answer) =>
    expect(await answer.text()).toContain("Consent received for merchant")
  )

  it("answers a begin that cannot begin with a 400 page and no cookie", () =>
    serve("promise", app, async (served) => {
      const answer = await fetch(`${served.origin}/consent?vat=XX1`, { redirect: "manual" })
      expect(answer.status).toBe(400)
      expect(answer.headers.getSetCookie()).toEqual([])
    }))

  it("refuses an oversized callback body with 413 before reading it all", () =>
    serve("promise", app, async (served) => {
      const answer = await fetch(`${served.origin}/callback`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `state=${"a".repeat(100 * 1024)}`
      })
      expect(answer.status).toBe(413)
    }))
})
