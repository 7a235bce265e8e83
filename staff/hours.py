"""When the desk is staffed: hours per weekday and public holidays, in Thai time.

    timezone: Asia/Bangkok            # the default
    hours:                            # weekdays not listed are closed
      mon: "08:30-16:30"
      tue: "08:30-16:30"
      sat: ["09:00-12:00", "13:00-16:00"]
    holidays:                         # closed all day
      - 2026-12-05
      - 2026-12-10

No file (OFFICE_HOURS_FILE unset) means staffed at all hours, as the 1111 centre is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS_TH = ("จันทร์", "อังคาร", "พุธ", "พฤหัสบดี", "ศุกร์", "เสาร์", "อาทิตย์")
Span = tuple[dt.time, dt.time]


def _span(text: str) -> Span:
    start, end = (dt.time.fromisoformat(part.strip()) for part in str(text).split("-", 1))
    if end <= start:
        raise ValueError(f"office hours {text!r}: the end must be after the start")
    return start, end


@dataclass(frozen=True)
class OfficeHours:
    """`always` when no hours are configured."""

    timezone: str = "Asia/Bangkok"
    week: dict[str, tuple[Span, ...]] = field(default_factory=dict)
    holidays: frozenset[dt.date] = frozenset()
    always: bool = True

    @classmethod
    def load(cls, path: str | Path | None) -> OfficeHours:
        if not path:
            return cls()
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        week: dict[str, tuple[Span, ...]] = {}
        for day, spans in (data.get("hours") or {}).items():
            if day not in WEEKDAYS:
                raise ValueError(f"office hours: unknown weekday {day!r} (use {', '.join(WEEKDAYS)})")
            spans = [spans] if isinstance(spans, str) else list(spans or [])
            week[day] = tuple(_span(s) for s in spans)
        holidays = frozenset(
            d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for d in data.get("holidays") or []
        )
        ZoneInfo(data.get("timezone", "Asia/Bangkok"))  # an unknown zone fails at start, not at night
        return cls(data.get("timezone", "Asia/Bangkok"), week, holidays, always=False)

    def is_open(self, at: dt.datetime | None = None) -> bool:
        if self.always:
            return True
        local = (at or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return False
        now = local.time()
        return any(start <= now < end for start, end in self.week.get(WEEKDAYS[local.weekday()], ()))

    def describe_th(self) -> str:
        """The hours as a citizen reads them: "จันทร์-ศุกร์ 08:30-16:30 น."."""
        if self.always:
            return "ตลอด 24 ชั่วโมง"
        groups: list[tuple[list[int], str]] = []
        for index, day in enumerate(WEEKDAYS):
            spans = self.week.get(day)
            if not spans:
                continue
            text = ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in spans)
            if groups and groups[-1][1] == text and groups[-1][0][-1] == index - 1:
                groups[-1][0].append(index)
            else:
                groups.append(([index], text))
        parts = [
            (WEEKDAYS_TH[d[0]] if len(d) == 1 else f"{WEEKDAYS_TH[d[0]]}-{WEEKDAYS_TH[d[-1]]}") + f" {t} น."
            for d, t in groups
        ]
        return " ".join(parts) + " (เว้นวันหยุดราชการ)" if parts else "ยังไม่เปิดให้บริการ"
