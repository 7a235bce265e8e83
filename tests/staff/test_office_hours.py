"""Office hours: per weekday, public holidays, Thai time; none configured means always staffed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from staff.hours import OfficeHours

BANGKOK = dt.timezone(dt.timedelta(hours=7))


@pytest.fixture
def hours(tmp_path: Path) -> OfficeHours:
    path = tmp_path / "hours.yml"
    path.write_text(
        "hours:\n"
        "  mon: '08:30-16:30'\n  tue: '08:30-16:30'\n  wed: '08:30-16:30'\n"
        "  thu: '08:30-16:30'\n  fri: '08:30-16:30'\n"
        "  sat: ['09:00-12:00', '13:00-15:00']\n"
        "holidays: [2026-12-07]\n",
        encoding="utf-8",
    )
    return OfficeHours.load(path)


def at(day: str, time: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=BANGKOK)


def test_no_file_means_always_staffed() -> None:
    hours = OfficeHours.load(None)
    assert hours.is_open(at("2026-12-06", "03:00"))
    assert hours.describe_th() == "ตลอด 24 ชั่วโมง"


def test_weekday_hours_in_thai_time(hours: OfficeHours) -> None:
    assert hours.is_open(at("2026-12-01", "08:30"))  # a Tuesday
    assert not hours.is_open(at("2026-12-01", "16:30"))
    assert not hours.is_open(at("2026-12-01", "07:00"))
    # 02:00 UTC is 09:00 in Bangkok
    assert hours.is_open(dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC))


def test_split_day_and_closed_day(hours: OfficeHours) -> None:
    assert hours.is_open(at("2026-12-05", "10:00"))  # Saturday morning
    assert not hours.is_open(at("2026-12-05", "12:30"))  # lunch
    assert not hours.is_open(at("2026-12-06", "10:00"))  # Sunday: not listed


def test_public_holiday_closed(hours: OfficeHours) -> None:
    assert not hours.is_open(at("2026-12-07", "10:00"))  # a Monday, but a holiday


def test_described_for_citizens(hours: OfficeHours) -> None:
    text = hours.describe_th()
    assert "จันทร์-ศุกร์ 08:30-16:30 น." in text
    assert "เสาร์ 09:00-12:00, 13:00-15:00 น." in text


def test_bad_configuration_fails_at_start(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("hours:\n  monday: '08:30-16:30'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="weekday"):
        OfficeHours.load(path)
    path.write_text("hours:\n  mon: '16:30-08:30'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="after the start"):
        OfficeHours.load(path)
