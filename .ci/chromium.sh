# Sourced by .ci/run: Chromium from Debian's packages for the browser end-to-end test.
# playwright-core drives it (its own browser download cannot work here).
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
export MOBILEPAY_TEST_CHROMIUM="$(command -v chromium)"
echo "== chromium: $("$MOBILEPAY_TEST_CHROMIUM" --version 2>/dev/null || echo unavailable)"
