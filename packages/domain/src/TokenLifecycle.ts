/**
 * The expiry state machine of one token key. `transition` folds events into the state;
 * `decide` answers what a caller asking for a token at `now` must do. Both are pure, so
 * every timing rule lives here and is checked by property tests over generated histories.
 *
 * @since 0.1.0
 */
import { Data, Duration, Option } from "effect"
import type { RefreshToken, TokenSet } from "./Token.js"
import * as Token from "./Token.js"

// ---------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------

/**
 * Timing rules. All durations in milliseconds.
 *
 * - A token is never served once `expiresAt - margin` has passed (the *stale* instant).
 * - Before that, in the last `refreshAhead` (shifted by jitter) a caller is served and a
 *   background refresh starts, so steady traffic never waits on the token endpoint.
 * - Failed refreshes back off exponentially; after `maxRetries` retries the key cools down
 *   and callers fail fast until the cool-down ends.
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy {
  /** Share of the token lifetime kept as safety margin before expiry (0..0.5). */
  readonly marginRatio: number
  readonly minMarginMillis: number
  readonly maxMarginMillis: number
  /** Share of the lifetime, before the stale instant, in which background refresh starts. */
  readonly refreshAheadRatio: number
  readonly maxRefreshAheadMillis: number
  /** Share (0..1) of the refresh-ahead window over which the start is spread per token. */
  readonly jitter: number
  /** Retries of a failed refresh before callers are failed (MobilePay: 2 recommended, 5 at most). */
  readonly maxRetries: number
  readonly baseBackoffMillis: number
  readonly maxBackoffMillis: number
}

/**
 * Defaults: a 300 s token gets a 30 s margin and background refresh from ~240-255 s; a 3700 s
 * token a 60 s margin and background refresh from ~3520-3580 s. Two retries, backoff 1 s to 30 s.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultPolicy: Policy = Data.struct({
  marginRatio: 0.1,
  minMarginMillis: 5_000,
  maxMarginMillis: 60_000,
  refreshAheadRatio: 0.1,
  maxRefreshAheadMillis: 120_000,
  jitter: 0.5,
  maxRetries: 2,
  baseBackoffMillis: 1_000,
  maxBackoffMillis: 30_000
})

/**
 * Options of {@link makePolicy}.
 *
 * @since 0.1.0
 * @category models
 */
export interface PolicyOptions {
  readonly marginRatio?: number
  readonly minMargin?: Duration.DurationInput
  readonly maxMargin?: Duration.DurationInput
  readonly refreshAheadRatio?: number
  readonly maxRefreshAhead?: Duration.DurationInput
  readonly jitter?: number
  readonly maxRetries?: number
  readonly baseBackoff?: Duration.DurationInput
  readonly maxBackoff?: Duration.DurationInput
}

// NaN goes to the low end: a NaN that slipped through would disable every comparison it meets
// (a NaN stale instant means "never fresh", i.e. a refresh on every call).
const clamp = (n: number, lo: number, hi: number) => (Number.isNaN(n) ? lo : Math.min(hi, Math.max(lo, n)))
// A NaN option (a bad config value) means "not given".
const num = (n: number | undefined, fallback: number) => (n === undefined || Number.isNaN(n) ? fallback : n)
// An infinite duration would freeze a key (an infinite margin or backoff), so it means "not given".
const ms = (d: Duration.DurationInput | undefined, fallback: number) => {
  if (d === undefined) return fallback
  const millis = Duration.toMillis(d)
  return Number.isFinite(millis) ? Math.max(0, millis) : fallback
}

/**
 * A policy from options over the defaults. Values out of range are clamped: ratios to
 * 0..0.5, jitter to 0..1, `maxRetries` to 0..5 (MobilePay's ceiling), the backoff floor to at
 * least 100 ms (the token endpoint is never hammered). `NaN` numbers and infinite durations
 * count as not given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePolicy = (options: PolicyOptions = {}): Policy => {
  const d = defaultPolicy
  const minMarginMillis = ms(options.minMargin, d.minMarginMillis)
  const baseBackoffMillis = Math.max(100, ms(options.baseBackoff, d.baseBackoffMillis))
  return Data.struct({
    marginRatio: clamp(num(options.marginRatio, d.marginRatio), 0, 0.5),
    minMarginMillis,
    maxMarginMillis: Math.max(minMarginMillis, ms(options.maxMargin, d.maxMarginMillis)),
    refreshAheadRatio: clamp(num(options.refreshAheadRatio, d.refreshAheadRatio), 0, 0.5),
    maxRefreshAheadMillis: ms(options.maxRefreshAhead, d.maxRefreshAheadMillis),
    jitter: clamp(num(options.jitter, d.jitter), 0, 1),
    maxRetries: Math.round(clamp(num(options.maxRetries, d.maxRetries), 0, 5)),
    baseBackoffMillis,
    maxBackoffMillis: Math.max(baseBackoffMillis, ms(options.maxBackoff, d.maxBackoffMillis))
  })
}

// ---------------------------------------------------------------------------
// Schedule of one token
// ---------------------------------------------------------------------------

/**
 * A token with the instants that govern it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scheduled {
  readonly tokens: TokenSet
  /** From here on a caller is served and a background refresh starts. */
  readonly refreshAt: number
  /** From here on the token is never served: `expiresAt - margin`. */
  readonly staleAt: number
}

/**
 * The safety margin for a token of this lifetime.
 *
 * @since 0.1.0
 * @category policy
 */
export const marginMillis = (policy: Policy, lifetimeMillis: number): number =>
  clamp(lifetimeMillis * policy.marginRatio, policy.minMarginMillis, policy.maxMarginMillis)

/**
 * Places a token on the timeline. `jitter` is a number in [0, 1) drawn once per token by the
 * caller (pure code draws nothing); it moves `refreshAt` later by up to `policy.jitter` of the
 * refresh-ahead window, so many keys do not refresh in the same second.
 *
 * @since 0.1.0
 * @category policy
 */
export const schedule = (policy: Policy, tokens: TokenSet, jitter: number): Scheduled => {
  const lifetime = Math.max(0, Token.lifetimeMillis(tokens))
  const staleAt = tokens.expiresAt - Math.min(lifetime, marginMillis(policy, lifetime))
  const ahead = Math.min(lifetime * policy.refreshAheadRatio, policy.maxRefreshAheadMillis)
  const shift = ahead * policy.jitter * clamp(jitter, 0, 1)
  const refreshAt = Math.max(tokens.issuedAt, Math.min(staleAt, staleAt - ahead + shift))
  return { tokens, refreshAt, staleAt }
}

/**
 * Delay before the next attempt after `failures` consecutive failures (1-based):
 * exponential from `baseBackoffMillis`, capped at `maxBackoffMillis`, never shorter than a
 * server's `Retry-After`.
 *
 * @since 0.1.0
 * @category policy
 */
export const backoffMillis = (policy: Policy, failures: number, retryAfterMillis?: number): number => {
  const exponential = Math.min(
    policy.maxBackoffMillis,
    policy.baseBackoffMillis * 2 ** Math.min(30, Math.max(0, failures - 1))
  )
  // A Retry-After that did not parse (NaN) must not turn the delay into NaN: every `now < retryAt`
  // would then be false and the key would retry at once, forever.
  const serverDelay =
    retryAfterMillis !== undefined && Number.isFinite(retryAfterMillis) ? Math.max(0, retryAfterMillis) : 0
  return Math.max(exponential, serverDelay)
}

// ---------------------------------------------------------------------------
// States and events
// ---------------------------------------------------------------------------

/**
 * The state of one key.
 *
 * - `Idle`: no refresh in flight. `current` is the last token (maybe stale, maybe none).
 * - `Refreshing`: one refresh is in flight; `failures` counts failed attempts before it.
 * - `BackingOff`: the refresh failed and will be retried at `retryAt` by its owner;
 *   callers wait (or are served a token that is still fresh).
 * - `CoolingDown`: retries are exhausted; callers fail fast until `retryAt`.
 * - `ConsentRequired`: the grant was rejected (`invalid_grant`); nothing refreshes until a
 *   new grant arrives.
 *
 * Every state but the last keeps the refresh token, separate from the access token, since
 * an access token can be dropped (a 401) while the grant stays good.
 *
 * @since 0.1.0
 * @category models
 */
export type State =
  | {
      readonly _tag: "Idle"
      readonly current: Option.Option<Scheduled>
      readonly refreshToken: Option.Option<RefreshToken>
    }
  | {
      readonly _tag: "Refreshing"
      readonly current: Option.Option<Scheduled>
      readonly refreshToken: Option.Option<RefreshToken>
      readonly failures: number
      readonly startedAt: number
    }
  | {
      readonly _tag: "BackingOff"
      readonly current: Option.Option<Scheduled>
      readonly refreshToken: Option.Option<RefreshToken>
      readonly failures: number
      readonly retryAt: number
    }
  | {
      readonly _tag: "CoolingDown"
      readonly current: Option.Option<Scheduled>
      readonly refreshToken: Option.Option<RefreshToken>
      readonly failures: number
      readonly retryAt: number
    }
  | { readonly _tag: "ConsentRequired" }

/**
 * A key that has never had a token.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: State = Data.struct({ _tag: "Idle", current: Option.none(), refreshToken: Option.none() })

/**
 * A key holding a token set (a grant just received, or one loaded from a store).
 *
 * @since 0.1.0
 * @category constructors
 */
export const holding = (policy: Policy, tokens: TokenSet, jitter: number): State =>
  Data.struct({
    _tag: "Idle",
    current: Option.some(schedule(policy, tokens, jitter)),
    refreshToken: tokens.refreshToken
  })

/**
 * What happens to a key.
 *
 * @since 0.1.0
 * @category models
 */
export type Event =
  /** The owner of a `RefreshNow` / `ServeAndRefresh` decision started the refresh. */
  | { readonly _tag: "RefreshStarted"; readonly at: number }
  /** The refresh returned tokens; `jitter` in [0, 1) places the next refresh. */
  | {
      readonly _tag: "RefreshSucceeded"
      readonly at: number
      readonly tokens: TokenSet
      readonly jitter: number
    }
  /**
   * The refresh failed; `retryAfterMillis` from the server. A transient failure (network, 5xx,
   * 429) is retried by its owner; a `final` one (a rejected client, a malformed answer) goes
   * straight to cool-down, so nobody waits on a retry that will not come.
   */
  | {
      readonly _tag: "RefreshFailed"
      readonly at: number
      readonly retryAfterMillis?: number
      readonly final?: boolean
    }
  /** The server rejected the grant (`invalid_grant`): consent is gone. */
  | { readonly _tag: "GrantRejected"; readonly at: number }
  /** A new grant (consent completed, or another process refreshed): replaces everything. */
  | {
      readonly _tag: "GrantReceived"
      readonly at: number
      readonly tokens: TokenSet
      readonly jitter: number
    }
  /** The API rejected the access token (401): drop it, keep the refresh token. */
  | { readonly _tag: "Invalidated"; readonly at: number }

/**
 * The next state. Total: an event that makes no sense in a state (a second
 * `RefreshStarted` while one is in flight, a result with nothing in flight) leaves the state
 * unchanged, which is what keeps at most one refresh in flight per key. Two exceptions, both
 * from the owner of a `BackingOff` key: its `RefreshStarted` at or after `retryAt` resumes the
 * refresh, and a `final` `RefreshFailed` (it gave up the retry) moves the key to `CoolingDown`.
 *
 * @since 0.1.0
 * @category transitions
 */
export const transition = (policy: Policy, state: State, event: Event): State => {
  switch (event._tag) {
    case "GrantReceived":
      return holding(policy, event.tokens, event.jitter)
    case "GrantRejected":
      return state._tag === "ConsentRequired" ? state : consentRequired
    case "RefreshStarted":
      switch (state._tag) {
        case "Idle":
          return Data.struct({ ...state, _tag: "Refreshing", failures: 0, startedAt: event.at })
        case "BackingOff":
        case "CoolingDown":
          if (event.at < state.retryAt) return state
          return Data.struct({
            _tag: "Refreshing",
            current: state.current,
            refreshToken: state.refreshToken,
            failures: state.failures,
            startedAt: event.at
          })
        default:
          return state
      }
    case "RefreshSucceeded":
      if (state._tag !== "Refreshing") return state
      return holding(policy, Token.afterRefresh(state.refreshToken, event.tokens), event.jitter)
    case "RefreshFailed": {
      if (state._tag === "BackingOff" && event.final === true) {
        // The owner gave up its scheduled retry (interrupted, shut down): cool down until the
        // retry was due, so the key does not wait forever on a retry that will not come.
        return Data.struct({ ...state, _tag: "CoolingDown" })
      }
      if (state._tag !== "Refreshing") return state
      const failures = state.failures + 1
      const retryAt = event.at + backoffMillis(policy, failures, event.retryAfterMillis)
      return Data.struct({
        _tag: event.final === true || failures > policy.maxRetries ? "CoolingDown" : "BackingOff",
        current: state.current,
        refreshToken: state.refreshToken,
        failures,
        retryAt
      })
    }
    case "Invalidated":
      return state._tag === "ConsentRequired" ? state : Data.struct({ ...state, current: Option.none() })
  }
}

const consentRequired: State = Data.struct({ _tag: "ConsentRequired" })

// ---------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------

/**
 * What a caller asking for a token must do.
 *
 * @since 0.1.0
 * @category models
 */
export type Decision =
  /** Use this token. */
  | { readonly _tag: "Serve"; readonly tokens: TokenSet }
  /** Use this token, and start a refresh in the background (you own it). */
  | { readonly _tag: "ServeAndRefresh"; readonly tokens: TokenSet }
  /** A refresh is in flight (or retrying): wait for its result. */
  | { readonly _tag: "AwaitRefresh" }
  /** No usable token: refresh now and wait (you own the refresh). */
  | { readonly _tag: "RefreshNow" }
  /** The grant is gone: the merchant must consent again. */
  | { readonly _tag: "FailConsentRequired" }
  /** Refreshes keep failing: fail now, try again at `retryAt`. */
  | { readonly _tag: "FailRetryAfter"; readonly retryAt: number }

const fresh = (current: Option.Option<Scheduled>, now: number): Option.Option<Scheduled> =>
  Option.filter(current, (s) => now < s.staleAt)

/**
 * The decision for a caller at `now` (epoch ms).
 *
 * @since 0.1.0
 * @category decisions
 */
export const decide = (state: State, now: number): Decision => {
  switch (state._tag) {
    case "ConsentRequired":
      return { _tag: "FailConsentRequired" }
    case "Idle":
      return Option.match(fresh(state.current, now), {
        onNone: () => ({ _tag: "RefreshNow" }),
        onSome: (s) =>
          now < s.refreshAt
            ? { _tag: "Serve", tokens: s.tokens }
            : { _tag: "ServeAndRefresh", tokens: s.tokens }
      })
    case "Refreshing":
    case "BackingOff":
      return Option.match(fresh(state.current, now), {
        onNone: () => ({ _tag: "AwaitRefresh" }),
        onSome: (s) => ({ _tag: "Serve", tokens: s.tokens })
      })
    case "CoolingDown":
      return Option.match(fresh(state.current, now), {
        onNone: () =>
          now < state.retryAt ? { _tag: "FailRetryAfter", retryAt: state.retryAt } : { _tag: "RefreshNow" },
        onSome: (s) =>
          now < state.retryAt
            ? { _tag: "Serve", tokens: s.tokens }
            : { _tag: "ServeAndRefresh", tokens: s.tokens }
      })
  }
}

/**
 * The refresh token the next refresh must send, if any.
 *
 * @since 0.1.0
 * @category getters
 */
export const refreshToken = (state: State): Option.Option<RefreshToken> =>
  state._tag === "ConsentRequired" ? Option.none() : state.refreshToken

/**
 * True while a refresh is in flight or its owner will retry it.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRefreshing = (state: State): boolean =>
  state._tag === "Refreshing" || state._tag === "BackingOff"
