"""The rounds pages' messages built from values (a status, a key group, a source) cover every value."""

from __future__ import annotations

import typing

from flexreg.console import i18n, messages_rounds
from registry.policies import KEY_GROUPS
from venues.models import AllocationSource, AllocationStatus, RoundStatus


def test_the_keys_built_from_enums_cover_every_value() -> None:
    wanted = {f"rounds_status_{status}" for status in typing.get_args(RoundStatus)}
    wanted |= {f"rounds_group_{group}" for group in KEY_GROUPS}
    wanted |= {f"rounds_source_{source}" for source in typing.get_args(AllocationSource)}
    wanted |= {f"rounds_allocation_{status}" for status in typing.get_args(AllocationStatus)}
    assert sorted(wanted - set(i18n.MESSAGES)) == []


def test_every_rounds_key_has_the_prefix_the_scripts_ask_for() -> None:
    assert [key for key in messages_rounds.MESSAGES if not key.startswith("rounds_")] == []
