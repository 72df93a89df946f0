#!/usr/bin/env bash
# The GPU check in one command: install what a GPU machine lacks, say what it has, run the
# cuda tests, measure every GPU path (scripts/bench_gpu.py), print one table; exit 0 only
# when every step ran.
#
#   scripts/gpu_check.sh --prepare      here, with the registries: the wheels a GPU machine
#                                       lacks (PyAV, ffmpeg-python, future; Python 3.12) and
#                                       the model into .gpu/ (git-ignored), to carry there
#   scripts/gpu_check.sh                there: from the repository's root, .gpu/ beside it
#   scripts/gpu_check.sh --dry-run      the same steps on a CPU with a tiny clip (the suite
#                                       runs this: tests/test_gpu_check.py)
#
# Options: --wheels DIR (.gpu/wheels), --model-dir DIR (.gpu/models, else $VIDPIPE_MODEL_DIR,
# else ../shared/models), --out DIR (where the log and the figures go: $OUT, else
# gpu_check_out/), --media DIR (where the clip is made: $TMPDIR/vidpipe-gpu-media). Sized to
# take 6-7 minutes on an H100, leaving time for a rerun.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DRY_RUN=0
PREPARE=0
WHEELS=.gpu/wheels
MODEL_DIR=
OUT_DIR=${OUT:-$ROOT/gpu_check_out}
MEDIA=${TMPDIR:-/tmp}/vidpipe-gpu-media
PYTHON=${PYTHON:-python3}
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) DRY_RUN=1 ;;
        --prepare) PREPARE=1 ;;
        --wheels) WHEELS=$2; shift ;;
        --model-dir) MODEL_DIR=$2; shift ;;
        --out) OUT_DIR=$2; shift ;;
        --media) MEDIA=$2; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check.sh: error: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$MODEL_DIR" ]; then
    if [ -f .gpu/models/yolox_nano.onnx ]; then MODEL_DIR=.gpu/models
    else MODEL_DIR=${VIDPIPE_MODEL_DIR:-../shared/models}; fi
fi

if [ "$PREPARE" = 1 ]; then
    AV_VERSION=$($PYTHON -c 'import av; print(av.__version__)')
    mkdir -p "$WHEELS" .gpu/models
    $PYTHON -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$WHEELS" "av==$AV_VERSION" ffmpeg-python==0.2.0 future
    cp "$MODEL_DIR/yolox_nano.onnx" .gpu/models/
    du -sh .gpu
    echo "carry .gpu to the GPU machine and run: bash scripts/gpu_check.sh"
    exit 0
fi

mkdir -p "$OUT_DIR"
LOG=$OUT_DIR/gpu_check.log
declare -a STEPS=()
FAILED=0
step() {  # step NAME COMMAND...: run it, note ok / FAILED (exit N), go on
    local name=$1
    shift
    echo
    echo "== $name: $*"
    local start=$SECONDS
    if "$@"; then
        STEPS+=("$(printf '%-32s ok      %4ds' "$name" $((SECONDS - start)))")
    else
        local code=$?
        STEPS+=("$(printf '%-32s FAILED  %4ds  (exit %d)' "$name" $((SECONDS - start)) "$code")")
        FAILED=1
    fi
}

install() {
    if compgen -G "$WHEELS/*.whl" >/dev/null; then
        $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/vidpipe-gpu-site "$WHEELS"/*.whl || return
        export PYTHONPATH=/tmp/vidpipe-gpu-site:$ROOT${PYTHONPATH:+:$PYTHONPATH}
    else
        echo "no wheels in $WHEELS: using what is installed"
        export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
    fi
    $PYTHON -c 'import sys, av, vidpipe; print(f"Python {sys.version.split()[0]}, vidpipe {vidpipe.__version__} ({vidpipe.__file__}), PyAV {av.__version__}")'
}

cuda_tests() {
    local files
    mapfile -t files < <(grep -rlE 'pytest\.mark\.cuda' tests)
    # exit 5: nothing collected (no cuda test left) counts as a failure too
    $PYTHON -m pytest -q -p no:cacheprovider -o addopts="" -m cuda -rs "${files[@]}"
}

bench() {
    local args=(gpu --model-dir "$MODEL_DIR" --media "$MEDIA" --json "$OUT_DIR/gpu_check.json")
    [ "$DRY_RUN" = 1 ] && args+=(--dry-run)
    PYTHONUNBUFFERED=1 $PYTHON scripts/bench.py "${args[@]}"
}

check() {  # every step, then the steps' table; its status: 0 when every step ran
    echo "GPU check $(date -u +%FT%TZ), $([ "$DRY_RUN" = 1 ] && echo 'dry run (CPU)' || echo GPU), in $ROOT"
    step "1 install" install
    step "2 cuda tests (pytest -m cuda)" cuda_tests
    step "3-5 figures (bench.py gpu)" bench
    echo
    echo "step                             result  time"
    printf '%s\n' "${STEPS[@]}"
    echo "log: $LOG; figures: $OUT_DIR/gpu_check.json"
    return "$FAILED"
}

check 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
