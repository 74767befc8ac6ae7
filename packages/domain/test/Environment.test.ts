import { describe, expect, it } from "@effect/vitest"
import { Environment } from "../src/index.js"

const url = (s: string) => new URL(s)
const secure = { allowInsecureLoopback: false }
const loopbackOk = { allowInsecureLoopback: true }
const sandbox = { kind: "sandbox" } as const
const production = { kind: "production" } as const

describe("Environment", () => {
  describe("built-in environments", () => {
    it("use https for every endpoint and never allow insecure loopback", () => {
      for (const env of Object.values(Environment.builtIn)) {
        for (const endpoint of [env.discoveryUrl, env.integratorTokenUrl, env.apiBaseUrl, env.issuer]) {
          expect(url(endpoint).protocol, `${env.name} ${endpoint}`).toBe("https:")
          expect(Environment.allowsEndpoint(env, url(endpoint))).toBe(true)
        }
        expect(env.allowInsecureLoopback).toBe(false)
      }
    })

    it("are keyed by their names", () => {
      for (const [name, env] of Object.entries(Environment.builtIn)) expect(env.name).toBe(name)
    })

    it("have the documented hosts", () => {
      expect(Environment.sandboxDK).toMatchObject({
        kind: "sandbox",
        country: "DK",
        discoveryUrl: "https://sandprod-admin.mobilepay.dk/account/.well-known/openid-configuration",
        integratorTokenUrl: "https://api.sandbox.mobilepay.dk/integrator-authentication/connect/token",
        apiBaseUrl: "https://api.sandbox.mobilepay.dk"
      })
      expect(Environment.sandboxFI).toMatchObject({
        kind: "sandbox",
        country: "FI",
        discoveryUrl: "https://sandprod-admin.mobilepay.fi/account/.well-known/openid-configuration",
        integratorTokenUrl: "https://api.sandbox.mobilepay.dk/integrator-authentication/connect/token",
        apiBaseUrl: "https://api.sandbox.mobilepay.dk"
      })
      expect(Environment.productionDK).toMatchObject({
        kind: "production",
        country: "DK",
        discoveryUrl: "https://admin.mobilepay.dk/account/.well-known/openid-configuration",
        integratorTokenUrl: "https://api.mobilepay.dk/integrator-authentication/connect/token",
        apiBaseUrl: "https://api.mobilepay.dk"
      })
      expect(Environment.productionFI).toMatchObject({
        kind: "production",
        country: "FI",
        discoveryUrl: "https://admin.mobilepay.fi/account/.well-known/openid-configuration",
        integratorTokenUrl: "https://api.mobilepay.dk/integrator-authentication/connect/token",
        apiBaseUrl: "https://api.mobilepay.dk"
      })
    })

    it("expect the production issuers, even in sandbox", () => {
      for (const env of Object.values(Environment.builtIn)) {
        expect(env.issuer).toBe("https://api.mobilepay.dk/merchant")
        expect(env.integratorIssuer).toBe("https://api.mobilepay.dk/integrator-authentication")
      }
    })
  })

  describe("custom", () => {
    it("defaults to a sandbox without insecure loopback", () => {
      const env = Environment.custom({
        discoveryUrl: "http://127.0.0.1:4010/.well-known/openid-configuration",
        issuer: "http://127.0.0.1:4010",
        integratorTokenUrl: "http://127.0.0.1:4010/token",
        apiBaseUrl: "http://127.0.0.1:4010"
      })
      expect(env).toMatchObject({ name: "custom", kind: "sandbox", allowInsecureLoopback: false })
      expect(env.integratorIssuer).toBe("https://api.mobilepay.dk/integrator-authentication")
      expect(Environment.allowsEndpoint(env, url(env.apiBaseUrl))).toBe(false)
    })

    it("keeps what it is given", () => {
      const env = Environment.custom({
        name: "offline",
        kind: "production",
        country: "FI",
        discoveryUrl: "http://localhost:4010/d",
        issuer: "http://localhost:4010",
        integratorTokenUrl: "http://localhost:4010/t",
        integratorIssuer: "http://localhost:4010/i",
        apiBaseUrl: "http://localhost:4010",
        allowInsecureLoopback: true
      })
      expect(env).toMatchObject({ name: "offline", kind: "production", country: "FI" })
      expect(env.integratorIssuer).toBe("http://localhost:4010/i")
      expect(Environment.allowsEndpoint(env, url(env.apiBaseUrl))).toBe(true)
    })
  })

  describe("allowsEndpoint", () => {
    it("accepts https anywhere", () => {
      for (const env of [secure, loopbackOk]) {
        expect(Environment.allowsEndpoint(env, url("https://api.mobilepay.dk/x"))).toBe(true)
        expect(Environment.allowsEndpoint(env, url("https://127.0.0.1:8443/"))).toBe(true)
      }
    })

    it.each([
      "http://127.0.0.1:4010/token",
      "http://localhost:4010/",
      "http://[::1]:4010/",
      "http://127.0.0.2/"
    ])("accepts %s only with allowInsecureLoopback", (endpoint) => {
      expect(Environment.allowsEndpoint(secure, url(endpoint))).toBe(false)
      expect(Environment.allowsEndpoint(loopbackOk, url(endpoint))).toBe(true)
    })

    it.each([
      "http://api.mobilepay.dk/token",
      "http://10.0.0.1/",
      "http://localhost.example.com/",
      "http://127.0.0.1.nip.io/",
      "http://127.example.com/",
      "http://[::2]/",
      "http://0.0.0.0/"
    ])("refuses %s even with allowInsecureLoopback", (endpoint) => {
      expect(Environment.allowsEndpoint(loopbackOk, url(endpoint))).toBe(false)
    })

    it.each(["ftp://127.0.0.1/", "ws://localhost/", "file:///etc/passwd"])("refuses %s", (endpoint) => {
      expect(Environment.allowsEndpoint(loopbackOk, url(endpoint))).toBe(false)
    })
  })

  describe("isLoopback", () => {
    it("knows loopback hosts, and only those", () => {
      for (const s of ["http://127.0.0.1/", "http://localhost/", "http://[::1]/", "http://127.1/"]) {
        expect(Environment.isLoopback(url(s)), s).toBe(true)
      }
      for (const s of ["http://127.evil.com/", "http://127.0.0.1.evil.com/", "http://localhost.evil.com/"]) {
        expect(Environment.isLoopback(url(s)), s).toBe(false)
      }
    })
  })

  describe("allowsRedirectUri", () => {
    it.each(["http://localhost:3000/callback", "http://127.0.0.1:3000/callback", "https://localhost/cb"])(
      "accepts the loopback %s in sandbox only",
      (uri) => {
        expect(Environment.allowsRedirectUri(sandbox, url(uri))).toBe(true)
        expect(Environment.allowsRedirectUri(production, url(uri))).toBe(false)
      }
    )

    it("accepts https elsewhere in both kinds", () => {
      for (const env of [sandbox, production]) {
        expect(Environment.allowsRedirectUri(env, url("https://shop.example.com/mobilepay/callback"))).toBe(
          true
        )
      }
    })

    it("refuses plain http to any other host, in both kinds", () => {
      for (const env of [sandbox, production]) {
        expect(Environment.allowsRedirectUri(env, url("http://shop.example.com/callback"))).toBe(false)
        expect(Environment.allowsRedirectUri(env, url("http://127.0.0.1.nip.io/callback"))).toBe(false)
      }
    })

    it("refuses non-web schemes even on loopback", () => {
      expect(Environment.allowsRedirectUri(sandbox, url("ftp://localhost/callback"))).toBe(false)
      expect(Environment.allowsRedirectUri(sandbox, url("ws://127.0.0.1/callback"))).toBe(false)
    })
  })
})
