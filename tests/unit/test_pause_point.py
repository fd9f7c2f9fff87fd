"""The fault-injection pause point is test-only: a stray variable in production does nothing."""

from __future__ import annotations

import pytest

from dev.testing import FAULT_SWITCH, FAULT_SWITCH_VALUE, pause_point


@pytest.mark.timeout(10)
@pytest.mark.parametrize("switch", [None, "1", "yes", FAULT_SWITCH_VALUE + "x"])
def test_marker_and_file_alone_never_pause(monkeypatch, tmp_path, switch):
    monkeypatch.setenv("PGRECON_PAUSE_BEFORE", "CREATE INDEX")
    monkeypatch.setenv("PGRECON_PAUSE_FILE", str(tmp_path / "paused"))
    if switch is None:
        monkeypatch.delenv(FAULT_SWITCH, raising=False)
    else:
        monkeypatch.setenv(FAULT_SWITCH, switch)
    pause_point("CREATE INDEX CONCURRENTLY t_a ON t (a)")  # returns at once
    assert not (tmp_path / "paused").exists()
