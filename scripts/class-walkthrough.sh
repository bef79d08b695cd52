#!/usr/bin/env bash
# Follow docs/instructor.md once, as root on a scratch machine: build the wheel, install it as a
# class image would, make the class folder, let one learner (a new OS user) run the lab and leave two
# labs running, read the class's progress as a non-root instructor and as root, write the nbgrader
# course, and clean up (as the instructor: reports what it cannot reach; as root: stops every lab as
# its learner, who can still use their lab afterwards). Removes its users and folders at the end, also
# on failure, signalling only its own throwaway users' processes (by uid).
# Usage: sudo bash scripts/class-walkthrough.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=$(mktemp -d /tmp/labkit-walkthrough-XXXX)
chmod 755 "$WORK"
LEARNER=labkit-learner-$$
TEACHER=labkit-teacher-$$
GROUP=labkit-instructors-$$
CLASS=$WORK/class
VENV=$WORK/venv
cleanup() {
    for user in "$LEARNER" "$TEACHER"; do
        if id "$user" >/dev/null 2>&1; then
            pkill -U "$(id -u "$user")" >/dev/null 2>&1 || true  # only this script's throwaway user
            userdel "$user" >/dev/null 2>&1 || true
        fi
    done
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

echo "== 3. a learner (a new OS user with a 0700 home) copies the course, runs it, and leaves two labs running"
mkdir -p "$WORK/home"
useradd -M -d "$WORK/home" "$LEARNER"
chown "$LEARNER" "$WORK/home"
chmod 700 "$WORK/home"
as_learner() { runuser -u "$LEARNER" -- env HOME="$WORK/home" LABKIT_CLASS_DIR="$CLASS" PATH="$VENV/bin:$PATH" "$@"; }
as_learner bash -c "cd ~ && labkit notebooks --out ~/partial-recovery --mode lab && ls ~/partial-recovery"
as_learner bash -c "cd ~/partial-recovery && labkit run partial-recovery --workspace ~/partial-recovery/.labkit/partial-recovery" \
    | tail -4
# labkit run stops its lab; a learner working in the notebooks leaves theirs running, and may have a second one.
as_learner labkit up --workspace "$WORK/home/partial-recovery/.labkit/partial-recovery" >/dev/null
as_learner labkit workload start --workspace "$WORK/home/partial-recovery/.labkit/partial-recovery" --rate 5
as_learner labkit up --workspace "$WORK/home/scratch/ws" >/dev/null
ls -l "$CLASS"

echo "== 4. the instructor (a non-root OS user in $GROUP, 0700 home) reads the class's progress"
mkdir -p "$WORK/teacher"
useradd -M -d "$WORK/teacher" -G "$GROUP" "$TEACHER"
chown "$TEACHER" "$WORK/teacher"
chmod 700 "$WORK/teacher"
as_teacher() { runuser -u "$TEACHER" -- env HOME="$WORK/teacher" PATH="$VENV/bin:$PATH" "$@"; }
as_teacher labkit class status "$CLASS"
as_teacher labkit class status "$CLASS" --mistakes --csv
as_teacher labkit class status "$CLASS" --csv | head -3

echo "== 5. grading: the nbgrader course"
"$WORK/venv/bin/labkit" nbgrader --out "$WORK/course"
(cd "$WORK/course" && PATH="$WORK/venv/bin:$PATH" nbgrader generate_assignment partial-recovery --log-level=WARN)
ls "$WORK/course/release/partial-recovery"

echo "== 6. after class: stop what learners left running"
echo "-- as the instructor (not root): reports what it cannot reach, exit code 1"
as_teacher labkit class cleanup "$CLASS" || echo "(exit code $?)"
echo "-- as root: each lab stopped as its learner"
"$VENV/bin/labkit" class cleanup "$CLASS"
echo "-- the learner's lab still works afterwards (nothing in it belongs to root):"
find "$WORK/home" ! -user "$LEARNER" -print | sed 's/^/not the learner'"'"'s: /'
as_learner labkit status --workspace "$WORK/home/partial-recovery/.labkit/partial-recovery" | head -3
as_learner labkit down --purge --workspace "$WORK/home/scratch/ws"
echo "walkthrough done"
