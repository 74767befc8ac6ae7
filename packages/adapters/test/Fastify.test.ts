import { describe, expect, it } from "@effect/vitest"
import { Fastify } from "@mobilepay-auth/adapters"
import fastify from "fastify"
import { consentContract, type Listener, serve } from "./harness.js"

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
  consentContract("Fastify 5", app, 303, (answer) => expect(answer.headers.get("location")).toBe("/done"))

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
