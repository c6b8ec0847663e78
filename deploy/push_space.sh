#!/usr/bin/env bash
# Push this repository to a Hugging Face Space. A Space reads its settings from YAML front matter at
# the top of README.md; our README must open with the two set-up commands instead, so the front
# matter lives in deploy/spaces_header.yml and is prepended here, in a throw-away commit on a
# temporary branch that only the Space receives; requirements.txt is swapped there for the CPU-only
# one deploy/space_requirements.py writes.
#   usage: deploy/push_space.sh <hf-user>/<space-name>
set -euo pipefail
space=${1:?usage: deploy/push_space.sh <hf-user>/<space-name>}
cd "$(dirname "$0")/.."
branch=space-deploy-$$
git switch -q -c "$branch"
trap 'git switch -q - && git branch -q -D "$branch"' EXIT
{ cat deploy/spaces_header.yml; echo; cat README.md; } > README.space.md && mv README.space.md README.md
# CPU-only torch (+cpu wheels from PyTorch's index) and no editable install: see deploy/space_requirements.py
python3 deploy/space_requirements.py requirements.txt > requirements.space.txt && mv requirements.space.txt requirements.txt
git commit -qam "Hugging Face Space front matter"
git push -f "https://huggingface.co/spaces/$space" "$branch:main"
