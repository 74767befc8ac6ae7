// One consent, end to end, through a framework adapter served on 127.0.0.1: the begin route
// answers 303 with the binding cookie, the sandbox's login and consent pages post the callback
// back to the server (the binding cookie presented as a browser would), and the grant is stored.
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { FetchHttpClient } from "@effect/platform"
import type { Consent } from "@mobilepay-auth/adapters"
import { createMobilePayAuth, MerchantConsent, MobilePay, TokenStore } from "@mobilepay-auth/platform"
import { Sandbox, SandboxBrowser } from "@mobilepay-auth/sandbox"
import { Context, Effect, Exit, Layer, ManagedRuntime, Redacted, Scope } from "effect"
import { expect, it } from "vitest"

export type Listener = (req: Http.IncomingMessage, res: Http.ServerResponse) => void

export interface Served {
  readonly origin: string
  readonly redirectUri: string
  readonly sandbox: Sandbox.Sandbox.Service
  readonly merchants: () => Promise<
    ReadonlyArray<{ readonly merchant: string; readonly merchantVat: unknown }>
  >
}

/**
 * Serves `mount(source)` on 127.0.0.1 (the begin step on `/consent`, the redirect URI on
 * `/callback`) next to a sandbox that knows this server's redirect URI, runs `body`, then closes
 * everything. `kind` chooses the source: the Promise API or the Effect `MerchantConsent` service.
 */
export const serve = async (
  kind: "promise" | "effect",
  mount: (source: Consent.Source) => Listener | Promise<Listener>,
  body: (served: Served) => Promise<void>
): Promise<void> => {
  let listener: Listener = (_req, res) => res.writeHead(503).end()
  const server = Http.createServer((req, res) => listener(req, res))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const redirectUri = `${origin}/callback`
  const scope = await Effect.runPromise(Scope.make())
  try {
    const sandbox = await Effect.runPromise(
      Layer.buildWithScope(
        Sandbox.layer({
          merchantClients: [
            {
              clientId: "app",
              clientSecret: "app-secret",
              redirectUris: [redirectUri],
              scopes: ["invoice"],
              rotation: "one-time"
            }
          ]
        }),
        scope
      ).pipe(Effect.map(Context.get(Sandbox.Sandbox)))
    )
    const settings = {
      environment: sandbox.environment,
      clientId: "app",
      clientSecret: "app-secret",
      redirectUri,
      scopes: ["invoice"] as const
    }
    if (kind === "promise") {
      const mp = createMobilePayAuth(settings)
      try {
        listener = await mount(mp)
        await body({ origin, redirectUri, sandbox, merchants: mp.merchants })
      } finally {
        await mp.dispose()
      }
    } else {
      const runtime = ManagedRuntime.make(
        MobilePay.layer({ ...settings, clientSecret: Redacted.make(settings.clientSecret) }).pipe(
          Layer.provide(TokenStore.layerMemory),
          Layer.provide(FetchHttpClient.layer)
        )
      )
      try {
        const consent = await runtime.runPromise(MerchantConsent.MerchantConsent)
        listener = await mount(consent)
        await body({ origin, redirectUri, sandbox, merchants: () => runtime.runPromise(consent.merchants) })
      } finally {
        await runtime.dispose()
      }
    }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await new Promise((resolve) => server.close(resolve))
  }
}

/** The cookie pair of a `Set-Cookie` line, as a browser sends it back. */
const pair = (setCookie: string) => setCookie.split(";")[0] ?? ""

/**
 * What a browser does: GET the begin route, follow MobilePay's pages, post the callback back
 * with the binding cookie (or without it, `withCookie: false`). Returns the callback's answer.
 */
export const consentThrough = async (
  served: Served,
  options: { readonly beginPath?: string; readonly withCookie?: boolean } = {}
): Promise<Response> => {
  const begun = await fetch(`${served.origin}${options.beginPath ?? "/consent"}`, { redirect: "manual" })
  expect(begun.status).toBe(303)
  const location = begun.headers.get("location") ?? ""
  expect(location.startsWith(served.sandbox.authorizeUrl)).toBe(true)
  const [cookie] = begun.headers.getSetCookie()
  expect(cookie).toMatch(
    /^__Host-mobilepay-consent=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=None$/
  )
  const callback = await Effect.runPromise(
    SandboxBrowser.consent(location, { redirectUri: served.redirectUri })
  )
  if (callback._tag !== "FormPost") throw new Error(`expected a form_post callback, got ${callback._tag}`)
  const headers = new Headers(callback.request.headers)
  if (options.withCookie !== false) headers.set("cookie", `theme=dark; ${pair(cookie ?? "")}`)
  return fetch(new Request(callback.request, { headers, redirect: "manual" }))
}

/** The callback cleared the binding cookie (single use, whatever the outcome). */
export const clearsBinding = (response: Response) =>
  expect(response.headers.getSetCookie()).toContainEqual(
    expect.stringMatching(/^__Host-mobilepay-consent=; .*Max-Age=0/)
  )

/**
 * The tests every adapter passes: a full consent on the Promise API (checked by `succeeded`,
 * the binding cookie cleared, the grant stored) and on the Effect service (answered with
 * `successStatus`), and a callback without the binding cookie refused with nothing stored.
 */
export const consentContract = (
  through: string,
  mount: (source: Consent.Source) => Listener | Promise<Listener>,
  successStatus: number,
  succeeded: (answer: Response) => Promise<void> | void
): void => {
  it(`completes a consent against the sandbox through ${through} (Promise API)`, () =>
    serve("promise", mount, async (served) => {
      const answer = await consentThrough(served)
      expect(answer.status).toBe(successStatus)
      await succeeded(answer)
      clearsBinding(answer)
      expect(await served.merchants()).toHaveLength(1)
    }))

  it("runs on the Effect MerchantConsent service too", () =>
    serve("effect", mount, async (served) => {
      const answer = await consentThrough(served)
      expect(answer.status).toBe(successStatus)
      expect(await served.merchants()).toHaveLength(1)
    }))

  it("refuses a callback without the binding cookie, and stores nothing", () =>
    serve("promise", mount, async (served) => {
      const answer = await consentThrough(served, { withCookie: false })
      expect(answer.status).toBe(400)
      clearsBinding(answer)
      expect(await served.merchants()).toHaveLength(0)
    }))
}
