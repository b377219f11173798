"""Keep the example files quoted in publishing.md identical to the files themselves.

    python services/intake/docs/include_examples.py          # rewrite publishing.md in place
    python services/intake/docs/include_examples.py --check  # exit 1 if a quoted example is out of date

A line ``<!-- include: examples/NAME -->`` is followed by a fenced block holding that file; the block
is (re)written from the file. The examples themselves are exercised by
tests/integration/test_intake_publishing_examples.py.
"""

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
GUIDE = DOCS / "publishing.md"
_LANG = {".py": "python", ".sh": "bash", ".json": "json"}
_INCLUDE = re.compile(r"^<!-- include: (?P<path>\S+) -->\n(?:```[^\n]*\n.*?^```\n)?", re.M | re.S)


def render(text: str, base: Path = DOCS) -> str:
    def block(match: re.Match[str]) -> str:
        path = base / match["path"]
        body = path.read_text()
        if not body.endswith("\n"):
            body += "\n"
        return f"<!-- include: {match['path']} -->\n```{_LANG.get(path.suffix, '')}\n{body}```\n"

    return _INCLUDE.sub(block, text)


def main(argv: list[str]) -> int:
    current = GUIDE.read_text()
    wanted = render(current)
    if "--check" in argv:
        if current != wanted:
            print(f"{GUIDE.name}: quoted examples are out of date (run {Path(__file__).name})", file=sys.stderr)
            return 1
        return 0
    GUIDE.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
