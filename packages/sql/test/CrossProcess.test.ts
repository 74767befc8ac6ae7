import { describe, expect, it } from "@effect/vitest"
import { SecureRandom, Token } from "@mobilepay-auth/domain"
import { TokenManager, TokenStore } from "@mobilepay-auth/platform"
import { Effect, Layer, Option, Redacted } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll } from "vitest"
import * as SqliteTokenStore from "../src/SqliteTokenStore.js"
import { grantKeyName, layers } from "./fixtures/tokenWorker.js"

// Several OS processes share one SQLite file through the token manager and refresh one
// merchant grant against a token endpoint with one-time refresh-token rotation: a second
// refresh of the same expiry would either present a spent refresh token (invalid_grant,
// consent lost) or waste a request. Neither may happen.

const root = Path.resolve(__dirname, "../../..")
// Node itself with tsx's loader (not the tsx CLI, whose extra parent process would survive
// the SIGKILL meant for the worker).
const tsxLoader = pathToFileURL(Path.join(root, "node_modules/tsx/dist/loader.mjs")).href
const worker = Path.join(__dirname, "fixtures/tokenWorker.ts")
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "mobilepay-xproc-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

interface TokenServer {
  readonly url: string
  /** Times (ms) at which refresh requests were answered with a new token. */
  readonly issued: Array<number>
  readonly invalidGrants: () => number
  readonly aborted: () => number
  /** Holds the next requests until released or the client disconnects; resolves when one arrives. */
  readonly hold: () => Promise<number>
  readonly release: () => void
  readonly close: () => Promise<void>
}

/** A minimal refresh-token endpoint with one-time rotation, as MobilePay can be configured. */
const startTokenServer = (lifetimeSeconds: number): Promise<TokenServer> =>
  new Promise((resolve) => {
    let current = "rt-0"
    let n = 0
    let invalid = 0
    let aborted = 0
    let holding: { arrived: (at: number) => void } | undefined
    let released = true
    const issued: Array<number> = []
    const server = Http.createServer((req, res) => {
      let body = ""
      req.on("data", (chunk: Buffer) => (body += chunk.toString()))
      req.on("end", async () => {
        if (!released && holding !== undefined) {
          holding.arrived(Date.now())
          while (!released && !res.socket?.destroyed) await new Promise((r) => setTimeout(r, 10))
          if (res.socket?.destroyed) {
            aborted++ // the client died before the server acted: nothing rotated
            return
          }
        }
        const params = new URLSearchParams(body)
        res.setHeader("content-type", "application/json")
        if (params.get("grant_type") !== "refresh_token" || params.get("refresh_token") !== current) {
          invalid++
          res.statusCode = 400
          res.end(JSON.stringify({ error: "invalid_grant" }))
          return
        }
        n++
        current = `rt-${n}`
        issued.push(Date.now())
        res.end(
          JSON.stringify({
            access_token: `at-${n}`,
            token_type: "Bearer",
            expires_in: lifetimeSeconds,
            refresh_token: current
          })
        )
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        issued,
        invalidGrants: () => invalid,
        aborted: () => aborted,
        hold: () => {
          released = false
          return new Promise((arrived) => (holding = { arrived }))
        },
        release: () => {
          released = true
        },
        close: () => new Promise((done) => server.close(() => done()))
      })
    })
  })

interface WorkerResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly output: { gets: number; errors: Record<string, number>; tokens: Array<string> } | undefined
  readonly stderr: string
}

const startWorker = (env: Record<string, string>) => {
  const child = spawn(process.execPath, ["--import", tsxLoader, worker], {
    cwd: root,
    env: { ...process.env, MP_WORKER: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
  const done = new Promise<WorkerResult>((resolve) =>
    child.on("exit", (code, signal) => {
      const line = stdout.trim().split("\n").pop()
      resolve({ code, signal, output: line ? JSON.parse(line) : undefined, stderr })
    })
  )
  return { child, done }
}

const key = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString("base64")

/** Installs the merchant's grant (refresh token `rt-0`) as consent would. */
const install = (filename: string, issuedAt: number, lifetimeSeconds: number) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(Layer.build(layers(filename, key, "installer", 5_000)), (ctx) =>
        Effect.flatMap(Effect.provide(TokenManager.TokenManager, ctx), (manager) =>
          manager.install(
            grantKeyName,
            {
              tokens: Token.fromResponse(
                {
                  access_token: Redacted.make("at-0"),
                  token_type: "Bearer",
                  expires_in: lifetimeSeconds,
                  refresh_token: Redacted.make("rt-0")
                },
                issuedAt
              ),
              attributes: {}
            },
            { persistent: true }
          )
        )
      )
    )
  )

describe("cross-process token refresh on one SQLite file", () => {
  it("3 processes x 25 callers through several expiries: one token request per expiry, no invalid_grant", async () => {
    const lifetimeSeconds = 3
    const server = await startTokenServer(lifetimeSeconds)
    const filename = Path.join(dir, "shared.db")
    const installedAt = Date.now()
    await install(filename, installedAt, lifetimeSeconds)
    const workers = ["a", "b", "c"].map((owner) =>
      startWorker({
        MP_DB: filename,
        MP_KEY: key,
        MP_SERVER: server.url,
        MP_OWNER: `worker-${owner}`,
        MP_DURATION_MS: "10000",
        MP_CALLERS: "25",
        MP_LEASE_TTL_MS: "5000"
      })
    )
    const results = await Promise.all(workers.map((w) => w.done))
    const finishedAt = Date.now()
    await server.close()

    for (const result of results) {
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      expect(result.output?.errors).toEqual({})
      expect(result.output?.gets).toBeGreaterThan(100)
    }
    expect(server.invalidGrants()).toBe(0)
    // Each token is refreshed once, in its refresh window (the last 20% of its 3 s life:
    // margin 10% + refresh-ahead 10%), never earlier: consecutive requests are at least a
    // lifetime minus that window apart. Slack for process scheduling.
    const window = 0.2 * lifetimeSeconds * 1000
    const slack = 250
    const times = [installedAt, ...server.issued]
    for (let i = 1; i < times.length; i++) {
      expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(lifetimeSeconds * 1000 - window - slack)
    }
    // ...and the grant was kept fresh throughout: no more than one expiry per lifetime.
    expect(server.issued.length).toBeGreaterThanOrEqual(3)
    expect(server.issued.length).toBeLessThanOrEqual(Math.ceil((finishedAt - installedAt) / 2_400))
    // Every process served only tokens the server issued, and all three shared them.
    const served = new Set(results.flatMap((r) => r.output?.tokens ?? []))
    for (const token of served) expect(token).toMatch(/^at-\d+$/)
    expect(served.size).toBeLessThanOrEqual(server.issued.length + 1)
  }, 60_000)

  it("SIGKILL mid-refresh: the store stays readable and the next process recovers after the lease TTL", async () => {
    const server = await startTokenServer(60)
    const filename = Path.join(dir, "killed.db")
    // Installed long ago with a 1 s lifetime: the first caller must refresh at once.
    await install(filename, Date.now() - 60_000, 1)
    const leaseTtl = 3_000
    const common = { MP_DB: filename, MP_KEY: key, MP_SERVER: server.url, MP_LEASE_TTL_MS: String(leaseTtl) }

    const arrived = server.hold()
    const doomed = startWorker({ ...common, MP_OWNER: "doomed", MP_DURATION_MS: "30000", MP_CALLERS: "10" })
    const heldAt = await arrived
    doomed.child.kill("SIGKILL")
    const killed = await doomed.done
    expect(killed.signal).toBe("SIGKILL")
    server.release()

    // Readable at once, by another process's store, and intact.
    const check = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const ctx = yield* Layer.build(
            Layer.merge(
              layers(filename, key, "inspector", leaseTtl),
              SqliteTokenStore.layerClient({ filename })
            ).pipe(Layer.provide(SecureRandom.layerWebCrypto))
          )
          const manager = yield* Effect.provide(TokenManager.TokenManager, ctx)
          const store = yield* Effect.provide(TokenStore.TokenStore, ctx)
          const grant = yield* manager.stored(grantKeyName)
          const keys = yield* store.list("")
          return { grant, keys }
        })
      )
    )
    expect(Option.map(check.grant, (g) => Redacted.value(g.tokens.accessToken))).toEqual(Option.some("at-0"))
    expect(check.keys.length).toBeGreaterThan(0)

    const startedAt = Date.now()
    const next = await startWorker({ ...common, MP_OWNER: "next", MP_DURATION_MS: "200", MP_CALLERS: "10" })
      .done
    expect(next.stderr).toBe("")
    expect(next.code).toBe(0)
    expect(next.output?.errors).toEqual({})
    expect(next.output?.tokens).toEqual(["at-1"])
    expect(server.aborted()).toBe(1)
    expect(server.invalidGrants()).toBe(0)
    expect(server.issued.length).toBe(1)
    // The dead holder's lease was honoured until it lapsed.
    expect(server.issued[0]!).toBeGreaterThanOrEqual(heldAt + leaseTtl - 500)
    expect(server.issued[0]!).toBeGreaterThanOrEqual(startedAt)
    await server.close()
  }, 60_000)
})
