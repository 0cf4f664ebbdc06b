#!/bin/sh
# The .deb install test, run by `cargo xtask bundle --test` inside its own mount namespace
# (`unshare --mount --propagation private`), so every mount made here vanishes with it.
#
#   install-test.sh ROOT APP_DEB SERVER_DEB OUT
#
# ROOT is a fresh Debian root (debootstrap --variant=minbase) that has never seen the
# packages; OUT receives the logs and a screenshot. Installs both packages with apt (their
# Depends only, as a school with --no-install-recommends would), checks what they put on the
# system, starts the installed app on a private Xvfb and waits for its page, runs the installed
# server as its service user, upgrades over an edited config file, then removes and purges
# both and checks nothing of theirs is left. Prints one `ok` line per check; exits 1 at the
# first failure, with the reason.
set -eu

ROOT=$1
APP_DEB=$2
SERVER_DEB=$3
OUT=$4

checks=0
ok() {
    checks=$((checks + 1))
    echo "ok    $*"
}
fail() {
    echo "FAIL  $*" >&2
    exit 1
}
# A command inside the root, with a clean environment.
in_root() {
    chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive "$@"
}
# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
    limit=$1
    shift
    i=0
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -le "$((limit * 4))" ] || return 1
        sleep 0.25
    done
}

pids=""
cleanup() {
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

mkdir -p "$OUT"
mount -t proc proc "$ROOT/proc"
mount --rbind /sys "$ROOT/sys"
mount --rbind /dev "$ROOT/dev"
mkdir -p "$ROOT/tmp/.X11-unix"
mount --bind /tmp/.X11-unix "$ROOT/tmp/.X11-unix"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

app=$(basename "$APP_DEB")
server=$(basename "$SERVER_DEB")
cp "$APP_DEB" "$SERVER_DEB" "$ROOT/tmp/"

# --- install -----------------------------------------------------------------------------
started=$(date +%s)
in_root apt-get -q update >"$OUT/apt-update.log" 2>&1 || {
    tail -20 "$OUT/apt-update.log"
    fail "apt-get update in the root"
}
if ! in_root apt-get install -y -q --no-install-recommends "/tmp/$app" "/tmp/$server" \
    >"$OUT/apt-install.log" 2>&1; then
    tail -30 "$OUT/apt-install.log"
    fail "apt-get install of $app and $server"
fi
ok "apt-get installed $app and $server with their dependencies ($(($(date +%s) - started)) s)"

for pkg in classroom classroom-server; do
    status=$(in_root dpkg-query -W -f='${Status}' "$pkg")
    [ "$status" = "install ok installed" ] || fail "$pkg: dpkg says '$status'"
done
ok "dpkg: classroom and classroom-server are 'install ok installed'"

for f in /usr/bin/classroom-app /usr/share/doc/classroom/copyright \
    /usr/share/doc/classroom/changelog.gz /usr/bin/classroom-server \
    /lib/systemd/system/classroom-server.service /etc/classroom/classroom-server.toml \
    /usr/share/doc/classroom-server/copyright /usr/share/doc/classroom-server/changelog.gz; do
    [ -f "$ROOT$f" ] || fail "$f is not installed"
done
ok "binaries, copyright files, changelogs, the service unit and the server's settings are in place"

desktop=$(grep -l '^Exec=classroom-app' "$ROOT"/usr/share/applications/*.desktop 2>/dev/null | head -1)
[ -n "$desktop" ] || fail "no desktop entry runs classroom-app"
grep -q '^Categories=.*Education' "$desktop" || fail "$desktop: not in the Education category"
grep -q '^MimeType=.*x-scheme-handler/classroom' "$desktop" ||
    fail "$desktop: does not open classroom:// invite links"
ok "desktop entry $(basename "$desktop"): Education, opens classroom:// links"

icons=$(find "$ROOT/usr/share/icons/hicolor" -path '*/apps/*' -name 'classroom*.png' | wc -l)
[ "$icons" -ge 3 ] || fail "only $icons icon sizes installed"
ok "$icons icon sizes in the hicolor theme"

# Nothing unstripped: `file` is not in a minimal root, so the host's reads the binary
# (`cargo xtask bundle --test` installs it).
for b in classroom-app classroom-server; do
    file "$ROOT/usr/bin/$b" | grep -q ', stripped' || fail "/usr/bin/$b is not stripped"
done
ok "both binaries are stripped"

# --- the installed app's media ------------------------------------------------------------
if ! in_root classroom-app --check-media >"$OUT/check-media.txt" 2>&1; then
    cat "$OUT/check-media.txt"
    fail "classroom-app --check-media: GStreamer lacks an element a class needs"
fi
sed 's/^/      /' "$OUT/check-media.txt"
ok "the installed app's GStreamer has every element a class needs"

# --- the installed app's window -----------------------------------------------------------
exec 3>"$OUT/display"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp >"$OUT/xvfb.log" 2>&1 &
pids="$pids $!"
exec 3>&-
wait_for 20 test -s "$OUT/display" || fail "Xvfb did not start"
display=:$(cat "$OUT/display")

mkdir -p "$ROOT/tmp/app-home" "$ROOT/tmp/app-runtime"
chmod 700 "$ROOT/tmp/app-runtime"
# Xvfb has no GPU: WebKit paints without GL compositing, so that a capture of the X screen
# shows every layer of the page (with GL in software, scrolled panels stay blank in it).
chroot "$ROOT" env -i PATH=/usr/bin:/bin HOME=/tmp/app-home LANG=C.UTF-8 \
    XDG_RUNTIME_DIR=/tmp/app-runtime DISPLAY="$display" GDK_BACKEND=x11 \
    WEBKIT_DISABLE_COMPOSITING_MODE=1 NO_AT_BRIDGE=1 classroom-app >"$OUT/app.log" 2>&1 &
app_pid=$!
pids="$pids $app_pid"
if ! wait_for 90 grep -q '^UI_READY' "$OUT/app.log"; then
    tail -20 "$OUT/app.log"
    fail "the installed app did not show its page within 90 s"
fi
xwininfo -display "$display" -root -tree | grep -q '"Classroom"' ||
    fail "no window titled Classroom on $display"
ok "the installed app opened its window and its page reported ready"
sleep 2
import -display "$display" -window root "$OUT/app-window.png"
spread=$(convert "$OUT/app-window.png" -format '%[fx:standard_deviation]' info:)
awk -v s="$spread" 'BEGIN { exit !(s > 0.02) }' || fail "the window is blank (spread $spread)"
ok "the window shows a page (screenshot $OUT/app-window.png, pixel spread $spread)"
kill "$app_pid"
wait "$app_pid" 2>/dev/null || true

# --- the installed server -----------------------------------------------------------------
in_root classroom-server --version >/dev/null || fail "classroom-server --version"
# Names as the root sees them: the service user exists only there.
owner=$(in_root stat -c '%U:%G %a' /etc/classroom/secret)
[ "$owner" = "root:classroom-server 640" ] || fail "the secret is $owner"
ok "the token secret was made at install: root:classroom-server, mode 640"

in_root dpkg-query -W -f='${Conffiles}\n' classroom-server |
    grep -q '/etc/classroom/classroom-server.toml' || fail "the settings file is not a conffile"
ok "/etc/classroom/classroom-server.toml is a conffile (upgrades keep a school's edits)"

token=$(in_root classroom-server token --secret-file /etc/classroom/secret --room install-test \
    --role student)
[ -n "$token" ] || fail "no token from the installed secret"
ok "the installed server mints a join token with the installed secret"

base=$((20000 + $$ % 20000))
chroot --userspec=classroom-server:classroom-server "$ROOT" env -i PATH=/usr/bin:/bin \
    classroom-server serve --config /etc/classroom/classroom-server.toml \
    --listen "127.0.0.1:$base" --udp "127.0.0.1:$((base + 1))" \
    --metrics-listen "127.0.0.1:$((base + 2))" >"$OUT/server.log" 2>&1 &
server_pid=$!
pids="$pids $server_pid"
if ! wait_for 30 curl -fsS "http://127.0.0.1:$((base + 2))/healthz"; then
    tail -20 "$OUT/server.log"
    fail "the installed server, run as its service user with the installed settings, is not healthy"
fi
[ -d "$ROOT/var/lib/classroom/lessons" ] || fail "the server made no lessons folder"
ok "the installed server runs as classroom-server with the installed settings (healthy; lessons in /var/lib/classroom)"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true

# --- upgrade over an edited settings file ---------------------------------------------------
echo '# edited by the school (install test)' >>"$ROOT/etc/classroom/classroom-server.toml"
secret_before=$(sha256sum <"$ROOT/etc/classroom/secret")
in_root dpkg -i --force-confold "/tmp/$server" >"$OUT/upgrade.log" 2>&1 ||
    fail "reinstalling $server over the installed one"
grep -q 'edited by the school' "$ROOT/etc/classroom/classroom-server.toml" ||
    fail "the upgrade overwrote the school's settings"
[ "$(sha256sum <"$ROOT/etc/classroom/secret")" = "$secret_before" ] ||
    fail "the upgrade replaced the token secret"
ok "an upgrade keeps the school's edited settings and the token secret"

# --- remove, then purge -------------------------------------------------------------------
in_root dpkg-query -L classroom classroom-server >"$OUT/files.txt"
in_root apt-get remove -y -q classroom classroom-server >"$OUT/remove.log" 2>&1 ||
    fail "apt-get remove"
for f in /usr/bin/classroom-app /usr/bin/classroom-server; do
    [ ! -e "$ROOT$f" ] || fail "$f is still there after removal"
done
[ -f "$ROOT/etc/classroom/classroom-server.toml" ] || fail "removal (not purge) lost the settings"
ok "apt-get remove took the programs and kept the settings"

# dpkg, not apt: the app (no conffiles) is already gone, and a package installed from a
# file is not in any apt source.
in_root dpkg --purge classroom classroom-server >"$OUT/purge.log" 2>&1 ||
    fail "dpkg --purge"
for d in /etc/classroom /var/lib/classroom; do
    [ ! -e "$ROOT$d" ] || fail "$d is still there after purge"
done
left=0
while read -r f; do
    # Folders stay when shared (/usr/bin, /lib: a link to usr/lib on a merged-/usr system).
    [ -d "$ROOT$f" ] && continue
    if [ -f "$ROOT$f" ] || [ -L "$ROOT$f" ]; then
        echo "      left behind: $f"
        left=$((left + 1))
    fi
done <"$OUT/files.txt"
[ "$left" -eq 0 ] || fail "$left packaged files left after purge"
for pkg in classroom classroom-server; do
    if in_root dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q ' installed$'; then
        fail "$pkg is still known to dpkg"
    fi
done
ok "purge left none of the $(wc -l <"$OUT/files.txt") packaged paths, no settings and no state"

echo "install-test: PASS ($checks checks)"
