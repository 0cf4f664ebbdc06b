#!/bin/sh
# Regenerates every app icon in icons/ from icons/icon.svg. Needs ImageMagick (`convert`) and
# python3; run from anywhere, then commit the results (builds use the committed files).
#
# Tauri refuses a PNG icon that is not RGBA, hence PNG32: on every PNG.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
icons="$here/../icons"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# No timestamps or other metadata, so regenerating unchanged art gives unchanged files.
png="-strip -define png:exclude-chunks=date,time,tIME"

# Render once, large, then scale down: small sizes stay crisper than a small direct render.
convert -background none -density 192 "$icons/icon.svg" -resize 1024x1024 $png "PNG32:$work/1024.png"

for size in 16 24 32 48 64 128 256 512; do
  convert "$work/1024.png" -filter Lanczos -resize "${size}x${size}" $png "PNG32:$work/$size.png"
done

cp "$work/32.png" "$icons/32x32.png"
cp "$work/128.png" "$icons/128x128.png"
cp "$work/256.png" "$icons/128x128@2x.png"
cp "$work/512.png" "$icons/icon.png"
# The Linux desktop's sizes (the .deb installs each into the hicolor theme).
for size in 16 24 48 64 256; do
  cp "$work/$size.png" "$icons/${size}x${size}.png"
done

convert "$work/16.png" "$work/24.png" "$work/32.png" "$work/48.png" "$work/64.png" "$work/256.png" \
  "$icons/icon.ico"

python3 "$here/make_icns.py" "$icons/icon.icns" \
  ic11="$work/32.png" ic12="$work/64.png" ic07="$work/128.png" ic13="$work/256.png" \
  ic08="$work/256.png" ic14="$work/512.png" ic09="$work/512.png" ic10="$work/1024.png"

echo "icons written to $icons"
