import { getRequestListener } from "@hono/node-server"
import { describe, expect, it } from "@effect/vitest"
import { Hono } from "@mobilepay-auth/adapters"
import { Hono as HonoApp } from "hono"
import { consentContract, serve } from "./harness.js"

const app = (source: Parameters<typeof Hono.callback>[0]) => {
  const app = new HonoApp()
  app.get("/consent", Hono.begin(source, { merchantVat: "DK12345678" }))
  app.on(["GET", "POST"], "/callback", Hono.callback(source, { successRedirect: "/done" }))
  app.onError((error) => Response.json({ caught: (error as { _tag?: string })._tag }, { status: 418 }))
  return getRequestListener(app.fetch)
}

describe("Hono adapter", () => {
  consentContract("Hono on Node", app, 303, (answer) => expect(answer.headers.get("location")).toBe("/done"))

  it("a begin that cannot begin reaches app.onError with the typed error", () =>
    serve(
      "promise",
      (source) => {
        const app = new HonoApp()
        app.get("/consent", Hono.begin(source, { merchantVat: "XX1" }))
        app.onError((error) => Response.json({ caught: (error as { _tag?: string })._tag }, { status: 418 }))
        return getRequestListener(app.fetch)
      },
      async (served) => {
        const answer = await fetch(`${served.origin}/consent`, { redirect: "manual" })
        expect(answer.status).toBe(418)
        expect(await answer.json()).toEqual({ caught: "InvalidVat" })
      }
    ))
})
