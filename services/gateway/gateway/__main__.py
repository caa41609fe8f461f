"""``python -m gateway serve|migrate|provision``."""

from jietiao_shared.service import main

from .app import build_spec

if __name__ == "__main__":
    main(build_spec)
