"""The lab and step registry: which labs exist, their steps, points and texts.

The content (titles, narrative, instructions, minutes, points, tips, hints,
production commands, knowledge questions) is data in
``labkit/data/labs/<topic>.json``; this module only loads and looks it up.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources

from labkit.errors import LabError

DEFAULT_TOPIC = "partial-recovery"


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


def lab_of(step_id: str, topic_id: str = DEFAULT_TOPIC) -> Lab:
    return lab(step(step_id, topic_id).lab_id, topic_id)


def describe_step(step_id: str, topic_id: str = DEFAULT_TOPIC) -> str:
    """The step as a learner reads it: title, time, points, narrative, instructions, tips, production commands."""
    s = step(step_id, topic_id)
    lines = [f"{s.title}  [{s.id}: {s.points} points, about {s.minutes} min]", "", s.narrative, "",
             f"What to do: {s.instructions}"]
    if s.question:
        lines += ["", s.question["text"]]
        options = s.question.get("choices") or s.question.get("items") or {}
        lines += [f"  {key}. {text}" for key, text in options.items()]
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
    "mongoimport": "mongoimport", "mgeneratejs": "mgeneratejs", "shell": "shell", "notes": "note",
}
