#!/usr/bin/env bash
# System packages the platform needs beyond Python wheels: a TrueType CJK font for
# the PDFs. Installs them with apt-get when missing (needs root).
set -euo pipefail

font=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
if [ -n "${JIETIAO_CJK_FONT:-}" ] && [ -f "$JIETIAO_CJK_FONT" ]; then
    exit 0
fi
if [ -f "$font" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "The CJK font is missing: run 'sudo apt-get install fonts-wqy-microhei'" \
         "or set JIETIAO_CJK_FONT to a TrueType CJK font file." >&2
    exit 1
fi
echo "installing fonts-wqy-microhei (CJK font for the PDFs)..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq fonts-wqy-microhei >/dev/null
