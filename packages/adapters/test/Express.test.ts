import { describe, expect, it } from "@effect/vitest"
import { Express } from "@mobilepay-auth/adapters"
import express from "express"
import { clearsBinding, consentThrough, serve } from "./harness.js"

const app = (
  source: Parameters<typeof Express.callback>[0],
  configure: (app: express.Express) => void = () => {}
) => {
  const app = express()
  configure(app)
  app.get(
    "/consent",
    Express.begin<express.Request>(source, (req) => ({
      merchantVat: String(req.query["vat"] ?? "DK12345678")
    }))
  )
  app.all("/callback", Express.callback(source, { successRedirect: "/done" }))
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(418).json({ caught: error instanceof Error ? (error as { _tag?: string })._tag : "unknown" })
  })
  return app
}

describe("Express adapter", () => {
  it("completes a consent against the sandbox through Express 5 (Promise API)", () =>
    serve(
      "promise",
      (source) => app(source),
      async (served) => {
        const answer = await consentThrough(served)
        expect(answer.status).toBe(303)
        expect(answer.headers.get("location")).toBe("/done")
        clearsBinding(answer)
        expect(await served.merchants()).toHaveLength(1)
      }
    ))

  it("works when the app registers express.urlencoded() globally (the body is already read)", () =>
    serve(
      "promise",
      (source) =>
        app(source, (a) => {
          a.use(express.urlencoded({ extended: true }))
          a.use(express.json())
        }),
      async (served) => {
        const answer = await consentThrough(served)
        expect(answer.status).toBe(303)
        expect(await served.merchants()).toHaveLength(1)
      }
    ))

  it("runs on the Effect MerchantConsent service too", () =>
    serve(
      "effect",
      (source) => app(source, (a) => a.use(express.urlencoded({ extended: false }))),
      async (served) => {
        const answer = await consentThrough(served)
        expect(answer.status).toBe(303)
        expect(await served.merchants()).toHaveLength(1)
      }
    ))

  it("refuses a callback without the binding cookie, and stores nothing", () =>
    serve(
      "promise",
      (source) => app(source, (a) => a.use(express.urlencoded({ extended: true }))),
      async (served) => {
        const answer = await consentThrough(served, { withCookie: false })
        expect(answer.status).toBe(400)
        clearsBinding(answer)
        expect(await served.merchants()).toHaveLength(0)
      }
    ))

  it("hands a begin that cannot begin to the app's error handler with the typed error", () =>
    serve(
      "promise",
      (source) => app(source),
      async (served) => {
        const answer = await fetch(`${served.origin}/consent?vat=XX1`, { redirect: "manual" })
        expect(answer.status).toBe(418)
        expect(await answer.json()).toEqual({ caught: "InvalidVat" })
        expect(answer.headers.getSetCookie()).toEqual([])
      }
    ))
})
