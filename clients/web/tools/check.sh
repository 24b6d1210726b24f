#!/bin/sh
# Checks that need no running Parley: every module parses, the DOM-free logic
# passes its unit tests, no innerHTML-style sinks exist, and (if Chromium is
# installed) index.html renders. Run from anywhere: sh clients/web/tools/check.sh
set -eu
cd "$(dirname "$0")/.."
status=0
for f in $(find js tools tests -name '*.js' | sort); do
  node --check "$f" || status=1
done
echo "node --check: all modules parse"
node --test tests/ || status=1
if grep -rnE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write' js | grep -v '^js/util.js:1:'; then
  echo "found an HTML sink in js/ (user text must go through textContent)"; status=1
fi
if command -v chromium >/dev/null 2>&1; then
  chromium --headless --no-sandbox --disable-gpu --window-size=1280,800 \
    --screenshot=/tmp/web.png "file://$(pwd)/index.html" >/dev/null 2>&1 && echo "screenshot: /tmp/web.png"
fi
exit $status
