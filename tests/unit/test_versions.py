import re
from pathlib import Path

import pytest

from app.framework.versions import PINNED, UnsupportedVersions, check_versions


def test_the_pins_checked_at_start_are_the_pins_installed():
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    pinned = dict(re.findall(r'"(faust-streaming|aiokafka)==([^"]+)"', pyproject))
    assert pinned == PINNED
    check_versions()  # this environment has them


def test_a_worker_on_other_versions_refuses_naming_each_mismatch():
    installed = {"faust-streaming": "0.16.0", "aiokafka": "0.14.0"}
    with pytest.raises(UnsupportedVersions, match=r"faust-streaming 0\.16\.0 \(needs 0\.15\.3\)"):
        check_versions(installed.__getitem__)
