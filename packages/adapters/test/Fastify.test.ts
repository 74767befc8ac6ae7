import { describe, expect, it } from "@effect/vitest"
import { Fastify } from "@mobilepay-auth/adapters"
import fastify from "fastify"
import { clearsBinding, consentThrough, serve, type Listener } from "./harness.js"

const app = async (source: Parameters<typeof Fastify.consent>[0]): Promise<Listener> => {
  // No content-type parser added by hand: the plugin reads the form_post itself.
  const app = fastify()
  // Set before the plugin, so that its encapsulated context inherits it.
  app.setErrorHandler((error: { _tag?: string; statusCode?: number; code?: string }, _request, reply) => {
    const tag = error._tag
    return tag === undefined
      ? reply.code(error.statusCode ?? 500).send({ code: error.code })
      : reply.code(418).send({ caught: tag })
  })
  await app.register(
    Fastify.consent(source, {
      begin: (request) => ({ merchantVat: (request.query as { vat?: string }).vat ?? "DK12345678" }),
      callback: { successRedirect: "/done" }
    })
  )
  app.post("/other", async () => ({ ok: true }))
  await app.ready()
  return (req, res) => app.routing(req, res)
}

describe("Fastify adapter", () => {
  it("completes a consent against the sandbox through Fastify 5 (Promise API)", () =>
    serve("promise", app, async (served) => {
      const answer = await consentThrough(served)
      expect(answer.status).toBe(303)
      expect(answer.headers.get("location")).toBe("/done")
      clearsBinding(answer)
      expect(await served.merchants()).toHaveLength(1)
    }))

  it("runs on the Effect MerchantConsent service too", () =>
    serve("effect", app, async (served) => {
      const answer = await consentThrough(served)
      expect(answer.status).toBe(303)
      expect(await served.merchants()).toHaveLength(1)
    }))

  it("refuses a callback without the binding cookie, and stores nothing", () =>
    serve("promise", app, async (served) => {
      const answer = await consentThrough(served, { withCookie: false })
      expect(answer.status).toBe(400)
      clearsBinding(answer)
      expect(await served.merchants()).toHaveLength(0)
    }))

  it("keeps its form parser to itself: other routes still refuse a form with 415", () =>
    serve("promise", app, async (served) => {
      const other = await fetch(`${served.origin}/other`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "a=1"
      })
      expect(other.status).toBe(415)
    }))

  it("a begin that cannot begin reaches the error handler with the typed error", () =>
    serve("promise", app, async (served) => {
      const answer = await fetch(`${served.origin}/consent?vat=XX1`, { redirect: "manual" })
      expect(answer.status).toBe(418)
      expect(await answer.json()).toEqual({ caught: "InvalidVat" })
      expect(answer.headers.getSetCookie()).toEqual([])
    }))
})
