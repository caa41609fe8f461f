"""Identity test helpers: the fake provider servers in tests/fakes are importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fakes"))
