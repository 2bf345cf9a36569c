#!/bin/sh
# Install (or remove) the Vereda folder for every user of a Linux laptop: the program in /opt/vereda, a menu entry,
# the icon, and the `vereda` command. Run as root from the unpacked folder:
#
#     sudo ./install.sh                  # install or update (the program only; clinic data are never touched)
#     sudo ./install.sh --prefix /srv/vereda
#     sudo ./install.sh --uninstall      # removes the program; patient data stay in each user's data folder
#
# Then check it: `vereda self-test`. The IT guide is docs/install.md.
set -eu

prefix=/opt/vereda
action=install
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --uninstall) action=uninstall; shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run it as root (sudo ./install.sh)" >&2
    exit 1
fi

applications=/usr/share/applications
icons=/usr/share/icons/hicolor
here="$(cd "$(dirname "$0")" && pwd)"

remove_program() {
    rm -f "$applications/vereda.desktop" /usr/local/bin/vereda
    for size in 16 24 32 48 64 128 256 512; do
        rm -f "$icons/${size}x${size}/apps/vereda.png"
    done
    rm -f "$icons/scalable/apps/vereda.svg"
    # Only a folder that holds Vereda is removed, never whatever --prefix pointed at by mistake.
    if [ -x "$prefix/vereda" ] && [ -d "$prefix/_internal/assets/models" ]; then
        rm -rf "$prefix"
    fi
}

if [ "$action" = uninstall ]; then
    remove_program
    command -v update-desktop-database > /dev/null && update-desktop-database -q "$applications" || true
    echo "Vereda removed from $prefix. Clinic data in users' folders (~/.local/share/Vereda) were kept."
    exit 0
fi

if [ ! -x "$here/vereda" ] || [ ! -d "$here/_internal" ]; then
    echo "install.sh: run it from the unpacked vereda folder (it has vereda and _internal/)" >&2
    exit 1
fi

if [ "$here" != "$prefix" ]; then
    # Copy beside the old copy, then swap, so a failed copy never leaves a half-installed program.
    rm -rf "$prefix.new"
    mkdir -p "$(dirname "$prefix")"
    cp -a "$here" "$prefix.new"
    rm -rf "$prefix.old"
    [ -d "$prefix" ] && mv "$prefix" "$prefix.old"
    mv "$prefix.new" "$prefix"
    rm -rf "$prefix.old"
fi
chmod -R go-w "$prefix"

mkdir -p "$applications"
sed "s|/opt/vereda|$prefix|g" "$prefix/vereda.desktop" > "$applications/vereda.desktop"
chmod 644 "$applications/vereda.desktop"
for size in 16 24 32 48 64 128 256 512; do
    source="$prefix/_internal/assets/icons/vereda-$size.png"
    if [ -f "$source" ]; then
        mkdir -p "$icons/${size}x${size}/apps"
        cp "$source" "$icons/${size}x${size}/apps/vereda.png"
    fi
done
mkdir -p "$icons/scalable/apps"
cp "$prefix/_internal/assets/icons/vereda.svg" "$icons/scalable/apps/vereda.svg"
ln -sf "$prefix/vereda" /usr/local/bin/vereda
command -v update-desktop-database > /dev/null && update-desktop-database -q "$applications" || true
command -v gtk-update-icon-cache > /dev/null && gtk-update-icon-cache -q -t "$icons" || true

echo "Vereda installed in $prefix. Check it with: vereda self-test"
