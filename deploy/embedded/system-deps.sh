#!/usr/bin/env bash
# System packages beyond Python wheels: a TrueType CJK font for the PDFs, and
# Chromium for the browser tests. Installed with apt-get when missing (needs root).
set -euo pipefail

font=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
missing=()
if [ -z "${JIETIAO_CJK_FONT:-}" ] && [ ! -f "$font" ]; then
    missing+=(fonts-wqy-microhei)
fi
if [ "${JIETIAO_NEED_BROWSER:-1}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
    missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages: ${missing[*]}. Install them with" \
         "'sudo apt-get install ${missing[*]}' (or set JIETIAO_CJK_FONT to a TrueType" \
         "CJK font file)." >&2
    exit 1
fi
echo "installing ${missing[*]}..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
