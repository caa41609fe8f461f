"""``python -m documents serve|migrate|provision|verify``."""

import sys

from jietiao_shared.service import main

from .app import build_spec

if __name__ == "__main__":
    if sys.argv[1:2] == ["verify"]:
        from .verify import main as verify

        sys.exit(verify(sys.argv[2:]))
    main(build_spec)
