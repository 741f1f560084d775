"""Every message a console template names exists in both languages, and the enum-driven ones cover their enums."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from flexreg.console import i18n
from permits.models import APPLICATION_STATUSES, TASK_STATUSES
from registry.catalogue import CATEGORIES
from venues.api.venues import PitchMapStatus
from venues.siting import FEATURE_KINDS, CheckName, VenueKind

TEMPLATES = Path(i18n.__file__).resolve().parent / "templates"
# A whole key, not the prefix of one built from a value (t('task_status_' + row.task.status)).
_LITERAL = re.compile(r"""\bt\(\s*'([a-z0-9_]*[a-z0-9])'""")


def test_every_literal_key_in_the_templates_is_in_the_catalogue() -> None:
    keys = {key for path in TEMPLATES.glob("*.html") for key in _LITERAL.findall(path.read_text())}
    assert keys, "no t('…') found: the pattern is out of date"
    assert sorted(keys - set(i18n.MESSAGES)) == []


def test_the_keys_built_from_enums_cover_every_value() -> None:
    wanted = {f"task_status_{status}" for status in (*TASK_STATUSES, "open")}
    wanted |= {f"application_status_{status}" for status in APPLICATION_STATUSES}
    wanted |= {f"role_{role}" for role in ("street_office", "department", "admin")}
    wanted |= {"unit_working_day", "unit_calendar_day"}
    wanted |= {f"map_feature_{kind}" for kind in FEATURE_KINDS} | {f"map_category_{code}" for code in CATEGORIES}
    wanted |= {f"map_kind_{kind}" for kind in get_args(VenueKind)} | {f"map_check_{c}" for c in get_args(CheckName)}
    wanted |= {f"map_status_{status}" for status in get_args(PitchMapStatus)}
    assert sorted(wanted - set(i18n.MESSAGES)) == []


def test_every_message_has_both_languages() -> None:
    assert [key for key, (zh, en) in i18n.MESSAGES.items() if not zh or not en] == []


def test_the_verification_script_gets_every_text_it_shows() -> None:
    """verify.js names its texts as t("key") and, for a tampered page, by the fields it compares."""
    from flexreg.console import verify

    script = (TEMPLATES.parent / "static" / "verify.js").read_text()
    named = set(re.findall(r'\bt\("([a-z0-9_]+)"', script))
    named |= set(re.findall(r"^\s+(\w+): \[claims", script, re.MULTILINE))
    named |= {f"status_{status}" for status in ("valid", "expired", "suspended", "revoked")}
    sent = i18n.catalogue("zh", verify._SCRIPT_PREFIXES, keys=verify._SCRIPT_KEYS)
    assert sorted(named - set(sent)) == []
