"""Repository paths: glob matching (`*` stays in one folder, `**` crosses folders) and test files."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    pat = pattern.strip("/")
    i, out = 0, []
    while i < len(pat):
        c = pat[i]
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pat.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pat.find("]", i)
            if j < 0:
                out.append(re.escape(c))
            else:
                out.append("[" + pat[i + 1 : j].replace("!", "^", 1) + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    body = "".join(out)
    # A pattern without a slash matches the name in any folder, as in .gitignore.
    prefix = "" if "/" in pat else "(?:.*/)?"
    return re.compile(f"^{prefix}{body}$")


def matches(pattern: str, path: str) -> bool:
    return glob_regex(pattern).match(path) is not None


TEST_FILE = re.compile(r"(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.py$|conftest\.py$)")


def is_test_file(path: str) -> bool:
    return TEST_FILE.search(path) is not None
