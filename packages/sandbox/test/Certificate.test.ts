import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { request } from "node:https"
import { selfSigned } from "../src/Certificate.js"
import * as Flow from "./flow.js"

/** GET over TLS trusting only `ca` (or the system store): the status, or the TLS error code. */
const get = (url: string, ca?: string) =>
  Effect.async<{ readonly status: number; readonly body: string } | { readonly error: string }>((resume) => {
    const req = request(url, ca === undefined ? {} : { ca }, (res) => {
      let body = ""
      res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body })))
    })
    req.on("error", (e: NodeJS.ErrnoException) => resume(Effect.succeed({ error: e.code ?? e.message })))
    req.end()
  })

describe("https", () => {
  it.effect("https: true serves TLS with a generated certificate a client can pin", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          expect(sandbox.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
          expect(sandbox.certificate).toContain("-----BEGIN CERTIFICATE-----")
          const trusted = yield* get(sandbox.discoveryUrl, sandbox.certificate)
          expect(trusted).toMatchObject({ status: 200 })
          const doc = "body" in trusted ? JSON.parse(trusted.body) : {}
          expect(doc.token_endpoint).toBe(sandbox.merchantTokenUrl)
          expect(doc.token_endpoint.startsWith("https://")).toBe(true)
          // A client that validates TLS against the usual roots must refuse it.
          const untrusted = yield* get(sandbox.discoveryUrl)
          expect(untrusted).toHaveProperty("error")
          expect("error" in untrusted ? untrusted.error : "").toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/)
        }),
      { https: true }
    )
  )

  it.effect("a given key and certificate are served as they are; another certificate is refused", () =>
    Effect.gen(function* () {
      const mine = yield* selfSigned
      const other = yield* selfSigned
      yield* Flow.withSandbox(
        (sandbox) =>
          Effect.gen(function* () {
            expect(sandbox.certificate).toBe(mine.cert)
            expect(yield* get(sandbox.jwksUrl, mine.cert)).toMatchObject({ status: 200 })
            const wrong = yield* get(sandbox.jwksUrl, other.cert)
            expect("error" in wrong ? wrong.error : "").toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|SIGNATURE/)
          }),
        { https: mine }
      )
    })
  )

  it.effect("plain http by default, with no certificate", () =>
    Flow.withSandbox((sandbox) =>
      Effect.sync(() => {
        expect(sandbox.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
        expect(sandbox.certificate).toBeUndefined()
      })
    )
  )

  it.effect("each generated certificate has its own key and a positive serial", () =>
    Effect.gen(function* () {
      const a = yield* selfSigned
      const b = yield* selfSigned
      expect(a.key).toContain("-----BEGIN PRIVATE KEY-----")
      expect(a.cert).not.toBe(b.cert)
      expect(a.key).not.toBe(b.key)
    })
  )
})
