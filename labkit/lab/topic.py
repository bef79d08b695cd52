"""The lab topic: its registry of labs and steps, its constants and the notebooks' parameters.

The content (titles, narrative, instructions, minutes, points, tips, hints,
production commands, knowledge questions) is data in
``labkit/data/labs/<topic>.json``; the registry only loads and looks it up.
The parameters are what a notebook's ``parameters`` cell sets (papermill);
``begin`` checks them and records them in the workspace for later labs and checks.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import zoneinfo
from dataclasses import dataclass, field
from importlib import resources

from bson import json_util

from labkit.errors import LabError
from labkit.workspace import DEFAULT_TOPIC, URI_ENV, Workspace


@dataclass(frozen=True)
class Step:
    id: str
    lab_id: str
    title: str
    minutes: int
    points: int
    narrative: str
    instructions: str
    hint: str
    tips: tuple[str, ...] = ()
    production: dict = field(default_factory=dict)
    question: dict | None = None
    minutes_atlas: int = 0
    asks: dict = field(default_factory=dict)  # name -> {"text", "kind", ...}: decisions and predictions recorded with answer()
    mistakes: dict = field(default_factory=dict)  # mistake key -> the hint for it (the message is the check's)
    nudge: str = ""  # the first, gentlest hint (challenge mode)
    sandbox: str = ""  # markdown for the step's try-it-yourself section, if it has one

    @property
    def short_id(self) -> str:
        return self.id.split(".", 1)[-1]


@dataclass(frozen=True)
class Lab:
    id: str
    title: str
    notebook: str
    summary: str
    steps: tuple[Step, ...]

    @property
    def points(self) -> int:
        return sum(step.points for step in self.steps)

    @property
    def minutes(self) -> int:
        return sum(step.minutes for step in self.steps)

    @property
    def minutes_atlas(self) -> int:
        return sum(step.minutes_atlas for step in self.steps)


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    summary: str
    database: str
    collection: str
    recovery_query: dict
    labs: tuple[Lab, ...]

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(step for lab in self.labs for step in lab.steps)

    @property
    def points(self) -> int:
        return sum(lab.points for lab in self.labs)

    def lab(self, lab_id: str) -> Lab:
        for lab in self.labs:
            if lab.id == lab_id:
                return lab
        valid = ", ".join(lab.id for lab in self.labs)
        raise LabError(f"Unknown lab {lab_id!r}. The labs of {self.id} are: {valid}.")

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        valid = ", ".join(step.id for step in self.steps)
        raise LabError(f"Unknown step {step_id!r}. The steps of {self.id} are: {valid}.")


def topic_ids() -> list[str]:
    folder = resources.files("labkit") / "data" / "labs"
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".json"))


@functools.lru_cache(maxsize=None)
def topic(topic_id: str = DEFAULT_TOPIC) -> Topic:
    """The topic ``topic_id`` with its labs and steps, read from the package data."""
    if topic_id not in topic_ids():
        raise LabError(f"Unknown lab topic {topic_id!r}. Available: {', '.join(topic_ids())}.")
    raw = json.loads((resources.files("labkit") / "data" / "labs" / f"{topic_id}.json").read_text())
    labs = []
    for lab in raw["labs"]:
        steps = tuple(
            Step(
                id=s["id"], lab_id=lab["id"], title=s["title"], minutes=int(s["minutes"]), points=int(s["points"]),
                narrative=s["narrative"], instructions=s["instructions"], hint=s["hint"],
                tips=tuple(s.get("tips", ())), production=dict(s.get("production", {})), question=s.get("question"),
                minutes_atlas=int(s.get("minutes_atlas", s["minutes"])), asks=dict(s.get("asks", {})),
                mistakes=dict(s.get("mistakes", {})), nudge=s.get("nudge", ""), sandbox=s.get("sandbox", ""),
            )
            for s in lab["steps"]
        )
        labs.append(Lab(id=lab["id"], title=lab["title"], notebook=lab["notebook"], summary=lab["summary"], steps=steps))
    return Topic(id=raw["id"], title=raw["title"], summary=raw["summary"], database=raw["database"],
                 collection=raw["collection"], recovery_query=raw["recovery_query"], labs=tuple(labs))


def step(step_id: str, topic_id: str = DEFAULT_TOPIC) -> Step:
    return topic(topic_id).step(step_id)


def lab(lab_id: str, topic_id: str = DEFAULT_TOPIC) -> Lab:
    return topic(topic_id).lab(lab_id)


def step_ids(topic_id: str = DEFAULT_TOPIC) -> list[str]:
    return [s.id for s in topic(topic_id).steps]


def ask(name: str, topic_id: str = DEFAULT_TOPIC) -> tuple[Step, dict]:
    """The step that asks ``name`` (a decision or a prediction recorded with ``answer``) and the question."""
    for s in topic(topic_id).steps:
        if name in s.asks:
            return s, s.asks[name]
    known = ", ".join(n for s in topic(topic_id).steps for n in s.asks)
    raise LabError(f"Unknown question {name!r}. The lab asks: {known} (and the knowledge questions by step id).")


def lab_of(step_id: str, topic_id: str = DEFAULT_TOPIC) -> Lab:
    return lab(step(step_id, topic_id).lab_id, topic_id)


def describe_step(step_id: str, topic_id: str = DEFAULT_TOPIC) -> str:
    """The step as a learner reads it: title, time, points, narrative, instructions, tips, production commands."""
    s = step(step_id, topic_id)
    lines = [f"{s.title}  [{s.id}: {s.points} points, about {s.minutes} min here, {s.minutes_atlas} min on Atlas]", "",
             s.narrative, "", f"What to do: {s.instructions}"]
    if s.question:
        lines += ["", s.question["text"]]
        options = s.question.get("choices") or s.question.get("items") or {}
        lines += [f"  {key}. {text}" for key, text in options.items()]
    for name, asked in s.asks.items():
        lines += ["", f"Question {name}: {asked['text']}"]
        lines += [f"  {key}. {text}" for key, text in asked.get("choices", {}).items()]
    if s.tips:
        lines += ["", "Tips:"] + [f"  - {tip}" for tip in s.tips]
    if s.production:
        lines += ["", "In production:"]
        for tool, command in s.production.items():
            label = PRODUCTION_LABELS.get(tool, tool)
            command_lines = command.splitlines()
            lines.append(f"  {label}: {command_lines[0]}")
            lines += [f"  {' ' * len(label)}  {more}" for more in command_lines[1:]]
    return "\n".join(lines)


PRODUCTION_LABELS = {
    "atlas_ui": "Atlas UI", "atlas_cli": "Atlas CLI", "mongosh": "mongosh", "mongoexport": "mongoexport",
    "mongoimport": "mongoimport", "mgeneratejs": "mgeneratejs", "shell": "shell", "cleanup": "afterwards",
    "notes": "note",
}


def production_block(step) -> str:
    """The step's production commands as one code block, each tool under a ``# label`` line."""
    lines = []
    for tool, command in step.production.items():
        label = PRODUCTION_LABELS.get(tool, tool)
        lines.append(f"# {label}")
        lines += command.splitlines()
    return "\n".join(lines)


# --- the partial-recovery topic's constants and the notebooks' parameters -------------------------

TOPIC = topic()
DB = TOPIC.database
COLLECTION = TOPIC.collection
MODES = ("lab", "demo", "challenge")
TARGETS = ("embedded", "uri")
DEFAULT_QUERY = json.dumps(TOPIC.recovery_query)
CANONICAL = json_util.JSONOptions(json_mode=json_util.JSONMode.CANONICAL, tz_aware=True,
                                  tzinfo=json_util.DEFAULT_JSON_OPTIONS.tzinfo)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_params(*, target, main_uri_env, temp_uri_env, customers, template, seed, insert_rate,
                    recovery_query, mode, incident_time_zone=None, **answers) -> dict:
    """The parameters as stored in the workspace (environment variable NAMES only, never URIs)."""
    if target not in TARGETS:
        raise LabError(f"Unknown target {target!r}: use 'embedded' (labkit starts Main and Temp) or 'uri' "
                       "(your own replica sets, whose URIs are in the environment variables main_uri_env and temp_uri_env).")
    if mode not in MODES:
        raise LabError(f"Unknown mode {mode!r}: use one of {', '.join(MODES)}.")
    if isinstance(customers, bool) or not isinstance(customers, int) or customers < 1:
        raise LabError(f"customers must be a whole number of at least 1 (the customers to load and recover), not {customers!r}.")
    if isinstance(insert_rate, bool) or not isinstance(insert_rate, (int, float)) or not insert_rate > 0:
        raise LabError(f"insert_rate must be a number of inserts per second above 0, not {insert_rate!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise LabError(f"seed must be a whole number (or None for different customers on every run), not {seed!r}.")
    if not isinstance(template, str) or not template.strip():
        raise LabError("template must name an mgeneratejs template: 'customer360' or a path to a .json file.")
    for name, value in (("main_uri_env", main_uri_env), ("temp_uri_env", temp_uri_env)):
        if not isinstance(value, str) or not _ENV_NAME.match(value):
            raise LabError(f"{name} must be the NAME of an environment variable (e.g. LABKIT_MAIN_URI), not {value!r}: "
                           "never put a connection string in the notebook.")
        if value.startswith("mongodb"):
            raise LabError(f"{name} must name an environment variable, not hold a connection string.")
    if target == "uri":
        for name, env in (("Main", main_uri_env), ("Temp", temp_uri_env)):
            if not os.environ.get(env):
                raise LabError(f"target is 'uri' but the environment variable {env} ({name}'s connection string) is not set. "
                               f"Set it before starting Jupyter, e.g. export {env}='mongodb+srv://user:password@cluster/'.")
    query = parse_query(recovery_query)
    if incident_time_zone is not None:
        zone_of(incident_time_zone)
    unknown = sorted(set(answers) - {"concepts_answer", "flow_answer"})
    if unknown:
        raise LabError(f"Unknown parameter(s) {', '.join(unknown)}. Knowledge answers are concepts_answer and flow_answer.")
    return {"target": target, "main_uri_env": main_uri_env, "temp_uri_env": temp_uri_env, "customers": customers,
            "template": template, "seed": seed, "insert_rate": float(insert_rate),
            "recovery_query": json_util.dumps(query), "mode": mode, "incident_time_zone": incident_time_zone}


def zone_of(name: str | None):
    """The incident report's time zone (an IANA name such as Europe/Berlin); None: the machine's local zone."""
    if name is None:
        return dt.datetime.now().astimezone().tzinfo
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise LabError(f"incident_time_zone {name!r} is not a time zone name: use an IANA name such as "
                       "'Europe/Berlin' or 'America/New_York', or None for this machine's zone.") from None


def parse_query(query) -> dict:
    if isinstance(query, dict):
        return query
    try:
        parsed = json_util.loads(query) if isinstance(query, str) else None
    except (ValueError, TypeError) as exc:
        raise LabError(f"recovery_query is not valid Extended JSON ({exc}): write it like "
                       '\'{"firstname": {"$exists": true}}\'.') from None
    if not isinstance(parsed, dict):
        raise LabError(f"recovery_query must be a JSON object such as '{DEFAULT_QUERY}', not {query!r}.")
    return parsed


def params(ws: Workspace) -> dict:
    """The parameters ``begin`` recorded (defaults if the lab was never begun in this workspace)."""
    stored = ws.read().get("labrun", {}).get("params") if ws.exists() else None
    return stored or validate_params(target="embedded", main_uri_env=URI_ENV["main"], temp_uri_env=URI_ENV["temp"],
                                     customers=100, template="customer360", seed=42, insert_rate=10.0,
                                     recovery_query=DEFAULT_QUERY, mode="lab")


def recovery_query(ws: Workspace) -> dict:
    return parse_query(params(ws)["recovery_query"])
