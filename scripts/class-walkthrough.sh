#!/usr/bin/env bash
# Follow docs/instructor.md once, as root on a scratch machine: build the wheel, install it as a
# class image would, make the class folder, let one learner (a new OS user) run the lab, then read
# the class's progress, write the nbgrader course and clean up. Removes its user and folders at the
# end, also on failure. Usage: sudo bash scripts/class-walkthrough.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=$(mktemp -d /tmp/labkit-walkthrough-XXXX)
LEARNER=labkit-learner-$$
GROUP=labkit-instructors-$$
CLASS=$WORK/class
cleanup() {
    if id "$LEARNER" >/dev/null 2>&1; then
        runuser -u "$LEARNER" -- env HOME="$WORK/home" "$WORK/venv/bin/labkit" down \
            --workspace "$WORK/home/partial-recovery/.labkit/partial-recovery" >/dev/null 2>&1 || true
        pkill -u "$LEARNER" >/dev/null 2>&1 || true
        userdel "$LEARNER" >/dev/null 2>&1 || true
    fi
    groupdel "$GROUP" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== 1. the image: a wheel, installed with plain pip into a fresh venv (with the instructor extra)"
# The system's Python, as a class image has it: every user must be able to run it (not root's own).
PYTHON=${PYTHON:-/usr/bin/python3}
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
"$WORK/venv/bin/pip" wheel --quiet --no-deps -w "$WORK/wheels" "$REPO" 2>&1 | grep -v "^WARNING: Location" || true
"$WORK/venv/bin/pip" install --quiet "$(ls "$WORK"/wheels/labkit-*.whl)[instructor]" 2>&1 | grep -v "^WARNING: Location" || true
"$WORK/venv/bin/labkit" --version
chmod -R a+rX "$WORK/venv" "$WORK"

echo "== 2. the class folder: setgid, sticky, learners may add records but not list or read them"
groupadd "$GROUP"
mkdir -p "$CLASS"
chgrp "$GROUP" "$CLASS"
chmod 3773 "$CLASS"

echo "== 3. a learner (a new OS user with a 0700 home) copies the course and runs it"
mkdir -p "$WORK/home"
useradd -M -d "$WORK/home" "$LEARNER"
chown "$LEARNER" "$WORK/home"
chmod 700 "$WORK/home"
as_learner() { runuser -u "$LEARNER" -- env HOME="$WORK/home" LABKIT_CLASS_DIR="$CLASS" PATH="$WORK/venv/bin:$PATH" "$@"; }
as_learner bash -c "cd ~ && labkit notebooks --out ~/partial-recovery --mode lab && ls ~/partial-recovery"
as_learner bash -c "cd ~/partial-recovery && labkit run partial-recovery --workspace ~/partial-recovery/.labkit/partial-recovery" \
    | tail -4
ls -l "$CLASS"

echo "== 4. the instructor reads the class's progress (as root here: a member of $GROUP)"
"$WORK/venv/bin/labkit" class status "$CLASS"
"$WORK/venv/bin/labkit" class status "$CLASS" --csv | head -3

echo "== 5. grading: the nbgrader course"
"$WORK/venv/bin/labkit" nbgrader --out "$WORK/course"
(cd "$WORK/course" && PATH="$WORK/venv/bin:$PATH" nbgrader generate_assignment partial-recovery --log-level=WARN)
ls "$WORK/course/release/partial-recovery"

echo "== 6. after class: stop what learners left running"
"$WORK/venv/bin/labkit" class cleanup "$CLASS"
echo "walkthrough done"
