#!/bin/sh
# Install footfall-agent as a systemd service: the `footfall` system user (in groups dialout and video),
# /etc/footfall-agent/config.yaml from an example (never overwritten), /var/lib/footfall-agent, the unit.
# Safe to run again: it converges on the same result and keeps an existing config.
#
#   sudo systemd/install.sh --venv [--camera] [--enable]     this checkout into /opt/footfall-agent, then the service
#   sudo systemd/install.sh [--bin PATH] [--enable]          the service for an executable installed otherwise
#   systemd/install.sh --destdir ROOT --bin PATH             into an image or a test tree
#
# The executable is never looked up on PATH (sudo resets it): it is /opt/footfall-agent/bin/footfall-agent,
# which --venv creates with systemd/venv.sh, or the one --bin names. It must not live under /home or /root:
# the service runs with ProtectHome=yes and cannot see them.
#
# With --destdir nothing on the running machine is touched: the user is created in the tree's own
# /etc/passwd (or by systemd-sysusers at the image's first boot) and systemctl is not called. --bin is
# required there: the path the unit runs is one inside the image, which this machine cannot know.
set -eu

usage() {
    cat <<'EOF'
usage: install.sh [--venv [--camera]] [--bin PATH] [--destdir DIR] [--example FILE] [--enable]

  --venv          first create or update /opt/footfall-agent, a venv with this checkout installed
                  (systemd/venv.sh); not with --destdir
  --camera        with --venv: include the camera extra (OpenCV, onnxruntime)
  --bin PATH      the footfall-agent executable the unit runs (default: /opt/footfall-agent/bin/footfall-agent;
                  required with --destdir)
  --destdir DIR   install into DIR instead of / (also: --prefix DIR, or DESTDIR=DIR in the environment)
  --example FILE  config to start from when /etc/footfall-agent/config.yaml does not exist
                  (default: firmware-config/serial-event-lines.yaml)
  --enable        enable and start the service (not with --destdir)
EOF
}

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
DESTDIR=${DESTDIR:-}
BIN=""
EXAMPLE="$REPO/firmware-config/serial-event-lines.yaml"
ENABLE=0
VENV=0
CAMERA=0
VENV_DIR=/opt/footfall-agent

while [ $# -gt 0 ]; do
    case "$1" in
        --destdir|--prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; DESTDIR=$2; shift 2 ;;
        --destdir=*|--prefix=*) DESTDIR=${1#*=}; shift ;;
        --bin) [ $# -ge 2 ] || { usage >&2; exit 2; }; BIN=$2; shift 2 ;;
        --bin=*) BIN=${1#*=}; shift ;;
        --example) [ $# -ge 2 ] || { usage >&2; exit 2; }; EXAMPLE=$2; shift 2 ;;
        --example=*) EXAMPLE=${1#*=}; shift ;;
        --enable) ENABLE=1; shift ;;
        --venv) VENV=1; shift ;;
        --camera) CAMERA=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

say() { echo "install.sh: $*"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

USER_NAME=footfall
UNIT=footfall-agent.service
ROOT=${DESTDIR%/}
if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" != "/" ] || ROOT=""
fi
LIVE=1
[ -z "$ROOT" ] || LIVE=0
AS_ROOT=0
[ "$(id -u)" -ne 0 ] || AS_ROOT=1

if [ "$LIVE" -eq 1 ] && [ "$AS_ROOT" -eq 0 ]; then
    die "run as root (or use --destdir to install into a directory tree)"
fi
if [ "$ENABLE" -eq 1 ] && [ "$LIVE" -eq 0 ]; then
    die "--enable only makes sense on the running machine, not with --destdir"
fi
if [ "$VENV" -eq 1 ] && [ "$LIVE" -eq 0 ]; then
    die "--venv builds for this machine, not for an image: install the package into the image, then give --bin"
fi
if [ "$CAMERA" -eq 1 ] && [ "$VENV" -eq 0 ]; then
    die "--camera goes with --venv (it installs the camera extra into /opt/footfall-agent)"
fi
if [ "$VENV" -eq 1 ] && [ -n "$BIN" ]; then
    die "give either --venv (the executable is $VENV_DIR/bin/footfall-agent) or --bin, not both"
fi
[ -f "$EXAMPLE" ] || die "example config $EXAMPLE not found"

if [ -z "$BIN" ]; then
    [ "$LIVE" -eq 1 ] || die "--bin PATH is required with --destdir: the executable's path inside the image"
    BIN=$VENV_DIR/bin/footfall-agent
fi
case "$BIN" in
    /*) ;;
    *) die "--bin must be an absolute path (systemd runs it without a PATH search), got '$BIN'" ;;
esac
case "$BIN" in
    /home/*|/root/*|/run/user/*)
        die "the service cannot run $BIN: it runs with ProtectHome=yes, which hides /home, /root and /run/user; install into $VENV_DIR (--venv) instead" ;;
esac
if [ "$VENV" -eq 1 ]; then
    if [ "$CAMERA" -eq 1 ]; then
        sh "$HERE/venv.sh" --camera "$VENV_DIR"
    else
        sh "$HERE/venv.sh" "$VENV_DIR"
    fi
fi
if [ "$LIVE" -eq 1 ] && [ ! -x "$BIN" ]; then
    die "$BIN does not exist: create it with --venv (add --camera for a camera), or name the executable with --bin"
fi

# Write $2 to $1 with mode $3 only if the content differs, so a rerun changes nothing.
put() {
    target=$1; content_file=$2; mode=$3
    mkdir -p "$(dirname "$target")"
    if [ -f "$target" ] && cmp -s "$content_file" "$target"; then
        chmod "$mode" "$target"
        return 1
    fi
    cp "$content_file" "$target.tmp.$$"
    chmod "$mode" "$target.tmp.$$"
    mv -f "$target.tmp.$$" "$target"
    return 0
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# 1. The system user, declared for systemd-sysusers so that an image gets it at first boot as well.
SYSUSERS="$ROOT/usr/lib/sysusers.d/footfall-agent.conf"
cat > "$TMP/sysusers.conf" <<EOF
# footfall-agent: system user that runs the service; serial ports need dialout, cameras video.
u $USER_NAME - "footfall-agent people counter" /var/lib/footfall-agent
m $USER_NAME dialout
m $USER_NAME video
EOF
put "$SYSUSERS" "$TMP/sysusers.conf" 0644 && say "installed $SYSUSERS" || true
mkdir -p "$ROOT/etc"
if command -v systemd-sysusers >/dev/null 2>&1; then
    if [ "$LIVE" -eq 1 ]; then
        systemd-sysusers "$SYSUSERS"
    elif ! systemd-sysusers --root="$ROOT" "$SYSUSERS" >/dev/null 2>"$TMP/sysusers.err"; then
        say "warning: could not create the user in $ROOT ($(cat "$TMP/sysusers.err")); systemd-sysusers will at boot"
    fi
elif [ "$LIVE" -eq 1 ]; then
    for group in dialout video; do
        getent group "$group" >/dev/null || groupadd --system "$group"
    done
    if ! id "$USER_NAME" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /var/lib/footfall-agent --no-create-home \
            --shell /usr/sbin/nologin --comment "footfall-agent people counter" "$USER_NAME"
    fi
    usermod --append --groups dialout,video "$USER_NAME"
else
    say "systemd-sysusers not found: the user will be created by systemd-sysusers at the image's first boot"
fi

# Numeric ids from the target tree's own user database (the host's may not know the user).
lookup() { [ -f "$ROOT/etc/$1" ] && awk -F: -v n="$USER_NAME" '$1 == n { print $3; exit }' "$ROOT/etc/$1" || true; }
UID_NUM=$(lookup passwd)
GID_NUM=$(lookup group)
own() {
    owner=$1; shift
    [ -n "$UID_NUM" ] && [ -n "$GID_NUM" ] || return 0
    case "$owner" in
        user) chown "$UID_NUM:$GID_NUM" "$@" 2>/dev/null || [ "$AS_ROOT" -eq 0 ] || die "cannot chown $*" ;;
        group) chown "0:$GID_NUM" "$@" 2>/dev/null || [ "$AS_ROOT" -eq 0 ] || die "cannot chown $*" ;;
    esac
}

# 2. Directories: config readable by the service's group only, state owned by the service.
CONF_DIR="$ROOT/etc/footfall-agent"
STATE_DIR="$ROOT/var/lib/footfall-agent"
CRED_DIR="$ROOT/etc/credstore"
mkdir -p "$CONF_DIR" "$STATE_DIR"
chmod 0750 "$CONF_DIR" "$STATE_DIR"
own group "$CONF_DIR"
own user "$STATE_DIR"
if [ ! -d "$CRED_DIR" ]; then
    mkdir -p "$CRED_DIR"
    chmod 0700 "$CRED_DIR"
    say "created $CRED_DIR for secrets (see the unit file)"
fi

# 3. The config: from the example the first time, never overwritten afterwards.
CONFIG="$CONF_DIR/config.yaml"
if [ -e "$CONFIG" ]; then
    say "kept existing $CONFIG"
else
    cp "$EXAMPLE" "$CONFIG.tmp.$$"
    chmod 0640 "$CONFIG.tmp.$$"
    mv "$CONFIG.tmp.$$" "$CONFIG"
    say "created $CONFIG from $(basename "$EXAMPLE"): edit it, then check it with: footfall-agent check-config $CONFIG"
fi
own group "$CONFIG"

# 4. The unit, pointing at the installed executable.
UNIT_PATH="$ROOT/etc/systemd/system/$UNIT"
BIN_SED=$(printf '%s' "$BIN" | sed 's/[&|\\]/\\&/g')
sed "s|^ExecStart=[^ ]*footfall-agent |ExecStart=$BIN_SED |" "$HERE/$UNIT" > "$TMP/$UNIT"
grep -qF "ExecStart=$BIN run " "$TMP/$UNIT" || die "could not set ExecStart in $UNIT"
UNIT_CHANGED=0
if put "$UNIT_PATH" "$TMP/$UNIT" 0644; then
    UNIT_CHANGED=1
    say "installed $UNIT_PATH (ExecStart=$BIN)"
else
    say "$UNIT_PATH is up to date"
fi

# 5. Tell systemd, on the running machine only.
if [ "$LIVE" -eq 1 ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$ENABLE" -eq 1 ]; then
        systemctl enable --now "$UNIT"
        say "enabled and started $UNIT"
    elif [ "$UNIT_CHANGED" -eq 1 ] && systemctl is-active --quiet "$UNIT"; then
        say "the unit changed: systemctl restart $UNIT to apply it"
    else
        say "start with: systemctl enable --now $UNIT"
    fi
elif [ "$LIVE" -eq 1 ]; then
    say "systemd is not running here: skipped daemon-reload"
fi
