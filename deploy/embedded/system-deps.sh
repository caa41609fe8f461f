#!/usr/bin/env bash
# System packages beyond Python wheels, installed with apt-get when missing (as root):
# - a TrueType CJK font for the PDFs (always needed);
# - Debian's Chromium for the browser tests (tests/browser drive it through
#   Playwright; no browser is ever downloaded) and poppler-utils (pdftoppm renders
#   the sealed PDFs to PNG in the documents tests). JIETIAO_NEED_BROWSER=0 skips
#   both, as `make run` does.
set -euo pipefail

font=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
missing=()
if ! { [ -n "${JIETIAO_CJK_FONT:-}" ] && [ -f "$JIETIAO_CJK_FONT" ]; } && [ ! -f "$font" ]; then
    missing+=(fonts-wqy-microhei)
fi
browser=0
if [ "${JIETIAO_NEED_BROWSER:-1}" = "1" ] && [ ! -x /usr/bin/chromium ]; then
    missing+=(chromium)
    browser=1
fi
if [ "${JIETIAO_NEED_BROWSER:-1}" = "1" ] && ! command -v pdftoppm >/dev/null; then
    missing+=(poppler-utils)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if [[ " ${missing[*]} " == *" poppler-utils "* ]]; then
        echo "pdftoppm is missing: the PDF-to-PNG test will be skipped." \
             "Install it with 'sudo apt-get install poppler-utils'." >&2
    fi
    if [ "$browser" = "1" ]; then
        echo "Chromium is missing: the browser tests (tests/browser) will be skipped." \
             "Install it with 'sudo apt-get install chromium' to run them." >&2
    fi
    if [[ " ${missing[*]} " == *" fonts-wqy-microhei "* ]]; then
        echo "The CJK font is missing: run 'sudo apt-get install fonts-wqy-microhei'" \
             "or set JIETIAO_CJK_FONT to a TrueType CJK font file." >&2
        exit 1
    fi
    exit 0
fi
echo "installing ${missing[*]} with apt-get..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
