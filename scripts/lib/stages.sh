# Stage timing for scripts/test: each stage's wall time, and the total, are
# printed as they end and again in a summary. Stages may run in the
# background (their output is shown when they are waited for).

readonly STAGES_STARTED=$(date +%s.%N)
STAGES_DIR=$(mktemp -d)
readonly STAGES_DIR
# On the way out (a failed stage included), stop what is still running in the background.
_stages_exit() {
  local entry
  for entry in "${STAGE_PIDS[@]}"; do kill -- "-${entry#*:}" 2>/dev/null || true; done
  rm -rf "$STAGES_DIR"
}
trap _stages_exit EXIT
STAGE_LINES=()
declare -A STAGE_PIDS=()

_now() { date +%s.%N; }
_load() { cut -d' ' -f1-3 /proc/loadavg; }
_elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }

_record() {
  local name="$1" started="$2" ended="$3" load="$4"
  local secs
  secs=$(_elapsed "$started" "$ended")
  STAGE_LINES+=("$(printf '%6s s  %-52s (load at start %s)' "$secs" "$name" "$load")")
  say "$name: ${secs} s"
}

# stage NAME COMMAND...: runs COMMAND in the foreground.
stage() {
  local name="$1"
  shift
  local started load
  started=$(_now)
  load=$(_load)
  say "$name"
  "$@"
  _record "$name" "$started" "$(_now)" "$load"
}

# background NAME COMMAND...: starts COMMAND (a function is fine); its output
# goes to a log shown by wait_background. NICE=N runs it at that niceness.
background() {
  local name="$1"
  shift
  local key="${#STAGE_PIDS[@]}"
  local nice="${NICE:-0}"
  say "$name: started in the background"
  printf '%s\n%s\n' "$(_now)" "$(_load)" >"$STAGES_DIR/$key.start"
  # Job control gives the job its own process group, so that it can be stopped whole.
  set -m
  (
    [[ "$nice" == 0 ]] || renice -n "$nice" -p "$BASHPID" >/dev/null
    rc=0
    "$@" || rc=$?
    _now >"$STAGES_DIR/$key.end"
    exit "$rc"
  ) >"$STAGES_DIR/$key.log" 2>&1 &
  STAGE_PIDS["$name"]="$key:$!"
  set +m
}

# unnice_background: back to normal priority for every background job still
# running (once the foreground no longer needs the CPU first). Lowering a
# niceness needs root; elsewhere the jobs simply keep theirs.
unnice_background() {
  local entry
  for entry in "${STAGE_PIDS[@]}"; do renice -n 0 -g "${entry#*:}" >/dev/null 2>&1 || true; done
}

# wait_background NAME: waits for it, shows its output, fails when it failed.
wait_background() {
  local name="$1"
  local key="${STAGE_PIDS[$name]%%:*}" pid="${STAGE_PIDS[$name]#*:}"
  local rc=0
  wait "$pid" || rc=$?
  unset 'STAGE_PIDS[$name]'
  say "$name (background) output:"
  cat "$STAGES_DIR/$key.log"
  local started load
  { read -r started; read -r load; } <"$STAGES_DIR/$key.start"
  _record "$name (background)" "$started" "$(cat "$STAGES_DIR/$key.end" 2>/dev/null || _now)" "$load"
  if ((rc != 0)); then
    echo "$name failed (exit $rc)"
    exit "$rc"
  fi
}

stage_summary() {
  say "stage wall times (background stages overlap the tests)"
  printf '%s\n' "${STAGE_LINES[@]}"
  printf '%6s s  total (load now %s)\n' "$(_elapsed "$STAGES_STARTED" "$(_now)")" "$(_load)"
}
