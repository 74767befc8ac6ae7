/**
 * The HTML the sandbox shows a person: login, consent, the `form_post` auto-submit page, and
 * the deliberately vague error page. Plain forms, so a test (or the demo's scripted browser, or
 * a real Chromium) can drive them.
 *
 * @since 0.1.0
 */

const escape = (s: string) =>
  s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;")

const page = (title: string, body: string) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;color:#1a1a2e}
button{padding:.5rem 1.25rem;margin-right:.5rem}label{display:block;margin:.5rem 0}</style></head>
<body><p><strong>MobilePay sandbox</strong> (offline)</p>${body}</body></html>`

/** @internal */
export const login = (requestId: string, merchantName: string | undefined) =>
  page(
    "Log in",
    `<h1>Log in</h1>
<p>${merchantName ? `Log in to give consent for <strong>${escape(merchantName)}</strong>.` : "Log in to continue."}</p>
<form method="post" action="/account/login">
<input type="hidden" name="request" value="${escape(requestId)}">
<label>User name <input name="username" value="" autocomplete="username"></label>
<label>Password <input name="password" type="password" value="" autocomplete="current-password"></label>
<button type="submit" name="action" value="login" id="login">Log in</button>
</form>`
  )

/** @internal */
export const consent = (
  requestId: string,
  clientId: string,
  scopes: ReadonlyArray<string>,
  merchant: string | undefined
) =>
  page(
    "Consent",
    `<h1>Give consent</h1>
<p><strong>${escape(clientId)}</strong> asks for access${merchant ? ` to <strong>${escape(merchant)}</strong>` : ""}:</p>
<ul>${scopes.map((s) => `<li>${escape(s)}</li>`).join("")}</ul>
<form method="post" action="/account/consent">
<input type="hidden" name="request" value="${escape(requestId)}">
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>`
  )

/** @internal */
export const formPost = (redirectUri: string, params: Readonly<Record<string, string>>) =>
  page(
    "Continue",
    `<form method="post" action="${escape(redirectUri)}" id="callback">
${Object.entries(params)
  .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
  .join("\n")}
<noscript><button type="submit">Continue</button></noscript>
</form>
<script>document.getElementById("callback").submit()</script>`
  )

/** @internal The same page whatever went wrong: MobilePay does not say. */
export const vagueError = () =>
  page("Error", `<h1>Something went wrong</h1><p>The request could not be processed.</p>`)
