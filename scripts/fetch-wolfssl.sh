#!/usr/bin/env bash
# Unpacks Debian's wolfssl source package (trixie, with debian/patches applied)
# into subprojects/wolfssl/upstream, where subprojects/wolfssl/meson.build
# compiles it, then applies gatehouse's own patches
# (subprojects/wolfssl/patches/*.patch, in name order, `patch -p1`; each
# file says why it exists). The unpacked tree is not committed (see
# .gitignore).
#
# upstream/.gatehouse-patches records the patches applied, one
# "NAME SHA256" line each, in order; meson.build refuses a tree whose stamp
# lacks one. Idempotent: a tree whose stamp lists exactly the patches here is
# left alone; a tree missing only newer patches gets them; a tree with a
# patch that changed or went away, or on which a patch does not apply
# cleanly, is fetched and patched anew. A tree is patched in a scratch
# directory and moved into place whole, so a failed run leaves the old tree.
#
# The tree is modified in place only when it is a real directory: a symlink
# (one tree shared by several checkouts) is refused rather than patched under
# the other checkouts' builds.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
dest=subprojects/wolfssl/upstream
patch_dir=subprojects/wolfssl/patches
stamp_name=.gatehouse-patches

# "NAME SHA256" of each patch, in the order they are applied.
wanted=""
for p in "$patch_dir"/*.patch; do
  wanted+="$(basename "$p") $(sha256sum < "$p" | cut -d' ' -f1)"$'\n'
done

applied=""
if [ -f "$dest/$stamp_name" ]; then
  applied=$(cat "$dest/$stamp_name")$'\n'
  [ "$applied" = $'\n' ] && applied=""
fi

# Applies the patches from line $2 of $wanted on to the tree $1, recording
# each in its stamp. Fails (leaving the tree as it was) if one does not apply.
apply_patches() {
  local tree=$1 skip=$2 line name
  local n=0
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    n=$((n + 1))
    [ "$n" -gt "$skip" ] || continue
    name=${line%% *}
    if ! patch -p1 --forward --batch --dry-run --silent -d "$tree" < "$patch_dir/$name" >/dev/null; then
      echo "fetch-wolfssl: $name does not apply to $tree" >&2
      return 1
    fi
    patch -p1 --forward --batch --silent --no-backup-if-mismatch -d "$tree" < "$patch_dir/$name"
    printf '%s\n' "$line" >> "$tree/$stamp_name"
    echo "fetch-wolfssl: applied $name"
  done <<< "$wanted"
}

refuse_shared() {
  if [ -L "$dest" ]; then
    echo "fetch-wolfssl: $dest is a symlink (a tree shared with other checkouts?)" \
         "and needs patching: replace it with a copy (cp -a) or remove it so that" \
         "this script fetches one; a shared tree is not patched in place" >&2
    exit 1
  fi
}

if [ -f "$dest/wolfssl/ssl.h" ]; then
  if [ "$applied" = "$wanted" ]; then
    exit 0
  fi
  # The patches applied must be the first ones wanted; then add the rest.
  if [ -z "$applied" ] || [ "${wanted:0:${#applied}}" = "$applied" ]; then
    refuse_shared
    if apply_patches "$dest" "$(printf '%s' "$applied" | grep -c .)"; then
      exit 0
    fi
  fi
  refuse_shared
  echo "fetch-wolfssl: $dest has other patches than $patch_dir: fetching it anew"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt drops privileges to _apt for downloads; let it write here.
chmod 0777 "$work"
( cd "$work" && apt-get source --download-only -qq wolfssl/trixie )
dsc=$(ls "$work"/wolfssl_*.dsc | head -n1)
dpkg-source --no-check -x "$dsc" "$work/tree" >/dev/null
: > "$work/tree/$stamp_name"
apply_patches "$work/tree" 0
refuse_shared
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$work/tree" "$dest"
echo "fetch-wolfssl: $(basename "$dsc" .dsc) unpacked into $dest"
