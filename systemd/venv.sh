#!/bin/sh
# Create or update the Python environment footfall-agent runs from, and install this checkout into it.
#
#   sudo systemd/venv.sh [--camera] [DIR]      DIR defaults to /opt/footfall-agent
#
# A venv, because Raspberry Pi OS (Bookworm and later) refuses `pip install` into the system Python
# (PEP 668, "externally managed"). Under /opt, because the service cannot see /home (ProtectHome=yes).
# --camera adds the camera extra (OpenCV, onnxruntime); a serial-only device does without.
# Run it again after `git pull` to update; the config and the data are not touched.
set -eu

usage() {
    echo "usage: venv.sh [--camera] [DIR]   (DIR: default /opt/footfall-agent)"
}

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
DIR=/opt/footfall-agent
EXTRA=""
while [ $# -gt 0 ]; do
    case "$1" in
        --camera) EXTRA="[camera]"; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "venv.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
        *) DIR=$1; shift ;;
    esac
done
case "$DIR" in
    /*) ;;
    *) echo "venv.sh: error: DIR must be an absolute path, got '$DIR'" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3}
if [ ! -x "$DIR/bin/python" ]; then
    "$PYTHON" -m venv "$DIR" || {
        echo "venv.sh: error: could not create a venv in $DIR (on Debian and Raspberry Pi OS: apt install python3-venv)" >&2
        exit 1
    }
fi
"$DIR/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$REPO$EXTRA"
echo "venv.sh: footfall-agent $("$DIR/bin/footfall-agent" --version | cut -d' ' -f2) installed in $DIR${EXTRA:+ with the camera extra}"
echo "venv.sh: the executable is $DIR/bin/footfall-agent"
