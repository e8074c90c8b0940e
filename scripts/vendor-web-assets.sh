#!/usr/bin/env bash
# Development-time step: copy the web app's JavaScript/CSS from npm packages into the package, so the
# installed app works offline (no CDN at run time). Re-run after changing a version below; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=src/tokenfab/server/static/vendor
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# name@version  files-to-copy (relative to the package root)
assets=(
  "cytoscape@3.35.0 dist/cytoscape.min.js LICENSE"
  "plotly.js-dist-min@4.1.2 plotly.min.js LICENSE"
  "swagger-ui-dist@5.35.0 swagger-ui-bundle.js swagger-ui.css LICENSE"
)
rm -rf "$dest"; mkdir -p "$dest"
{
  echo "# Vendored front-end assets"
  echo
  echo "Copied from npm by scripts/vendor-web-assets.sh; served by \`tokenfab serve\` from /static/vendor/."
  echo
  echo "| package | version | licence | files |"
  echo "|---|---|---|---|"
} > "$dest/VENDORED.md"
for entry in "${assets[@]}"; do
  set -- $entry; spec=$1; shift
  name=${spec%@*}; version=${spec##*@}
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  mkdir -p "$work/$name" && tar xzf "$work/${name//\//-}-$version.tgz" -C "$work/$name"
  licence=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['license'])" "$work/$name/package/package.json")
  mkdir -p "$dest/$name"
  for f in "$@"; do cp "$work/$name/package/$f" "$dest/$name/$(basename "$f")"; done
  echo "| $name | $version | $licence | $(printf '%s ' "$@") |" >> "$dest/VENDORED.md"
done
echo "vendored into $dest"
