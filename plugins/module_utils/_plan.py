# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plans: what a module is about to do, as data.

Every module reads the actual state, hands it with the desired state to a pure
planner that returns a :class:`Plan`, and only then applies the plan, unless
in check mode.  Check mode and ``--diff`` report the plan itself, so what they
predict and what a real run does cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The kinds of action a planner may emit, in the order an applier runs them.
KINDS = (
    "create",
    "recreate",
    "update_live",
    "update_next_boot",
    "update",
    "start",
    "stop",
    "restart",
    "pause",
    "resume",
    "delete",
)


@dataclass
class Change:
    """One option that differs: ``before`` and ``after`` in the module's vocabulary."""

    option: str
    before: Any
    after: Any


@dataclass
class Action:
    """One step of a plan, against one ``target`` (a guest, a service, a volume...)."""

    kind: str
    target: str
    changes: list[Change] = field(default_factory=list)
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown plan action kind {self.kind!r}")

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"action": self.kind, "target": self.target}
        if self.changes:
            result["changes"] = {c.option: {"before": c.before, "after": c.after} for c in self.changes}
        if self.reason:
            result["reason"] = self.reason
        return result


@dataclass
class Plan:
    """An ordered list of actions, plus the before/after views for ``--diff``."""

    actions: list[Action] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    def add(self, kind: str, target: str, changes: list[Change] | None = None, reason: str = "") -> Action:
        action = Action(kind, target, list(changes or []), reason)
        self.actions.append(action)
        return action

    def of_kind(self, *kinds: str) -> list[Action]:
        return [a for a in self.actions if a.kind in kinds]

    def as_list(self) -> list[dict[str, Any]]:
        return [a.as_dict() for a in self.actions]

    def diff(self) -> dict[str, Any]:
        """The ``diff`` key of a module result (``before``/``after`` dicts)."""
        return {"before": self.before, "after": self.after}


def changes_between(before: dict[str, Any], after: dict[str, Any], options: list[str] | tuple[str, ...] | None = None) -> list[Change]:
    """The options whose values differ, in ``options`` order (default: sorted keys).

    An option the user did not set (``after`` value ``None``) is not a change:
    it means "leave as it is".
    """
    keys = options if options is not None else sorted(set(before) | set(after))
    return [Change(k, before.get(k), after.get(k)) for k in keys if after.get(k) is not None and before.get(k) != after.get(k)]
