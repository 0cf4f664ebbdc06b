#!/bin/sh
# Copies a pruned GStreamer.framework for the app bundle: the libraries, the plugins listed
# in installer/gstreamer-plugins.txt that exist for macOS, and the plugin scanner (no headers,
# no tools, no other plugins). Tauri copies it into Classroom.app/Contents/Frameworks; the app
# points GStreamer's plugin path, scanner and registry at it before GStreamer starts.
#   stage-gstreamer.sh /Library/Frameworks/GStreamer.framework src-tauri/GStreamer.framework
set -eu
from=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
v=Versions/1.0
rm -rf "$out"
mkdir -p "$out/$v/lib/gstreamer-1.0" "$out/$v/libexec/gstreamer-1.0"
cp -a "$from/$v/lib/"*.dylib "$out/$v/lib/"
cp -a "$from/$v/GStreamer" "$out/$v/" 2>/dev/null || true
cp -a "$from/$v/libexec/gstreamer-1.0/gst-plugin-scanner" "$out/$v/libexec/gstreamer-1.0/"
[ -d "$from/$v/Resources" ] && cp -a "$from/$v/Resources" "$out/$v/"
ln -sfn 1.0 "$out/Versions/Current"
for link in GStreamer Resources; do
    [ -e "$out/Versions/Current/$link" ] && ln -sfn "Versions/Current/$link" "$out/$link"
done

grep -v '^#' "$here/../gstreamer-plugins.txt" | while read -r name; do
    [ -n "$name" ] || continue
    if [ -f "$from/$v/lib/gstreamer-1.0/libgst$name.dylib" ]; then
        cp -a "$from/$v/lib/gstreamer-1.0/libgst$name.dylib" "$out/$v/lib/gstreamer-1.0/"
    else
        echo "not for macOS (skipped): $name"
    fi
done
found=$(ls "$out/$v/lib/gstreamer-1.0" | wc -l)
echo "staged $found plugins and the runtime: $(du -sh "$out" | cut -f1) in $out"
[ "$found" -ge 20 ] || { echo "only $found plugins staged" >&2; exit 1; }
