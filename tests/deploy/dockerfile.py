"""The Dockerfile and .dockerignore read the way ``docker build`` reads them, for the checks that can run
without a Docker daemon: which commands each stage runs, with which environment, as which user, and
which files of the build context reach the image.

Only the instructions this project's Dockerfile uses are understood; anything else fails loudly.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.env_example import ROOT

KNOWN = {"ARG", "FROM", "ENV", "RUN", "COPY", "WORKDIR", "USER", "EXPOSE", "CMD"}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [value for key, value in self.instructions if key == keyword]

    def last(self, keyword: str) -> str:
        values = self.all(keyword)
        assert values, f"stage {self.name} has no {keyword}"
        return values[-1]

    def env(self, inherited: dict[str, str]) -> dict[str, str]:
        """The stage's ENV on top of ``inherited`` (the base image's), ``$NAME`` expanded as docker does."""
        env = dict(inherited)
        for value in self.all("ENV"):
            for pair in shlex.split(value):
                name, _, raw = pair.partition("=")
                env[name] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), raw)
        return env

    def cmd(self) -> list[str]:
        return json.loads(self.last("CMD"))


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) with line continuations joined and comment lines dropped."""
    joined, current = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            keyword, _, rest = current.strip().partition(" ")
            assert keyword.upper() in KNOWN, f"Dockerfile: {keyword} is not understood by tests/deploy/dockerfile.py"
            joined.append((keyword.upper(), " ".join(rest.split())))
        current = ""
    return joined


def stages(path: Path = ROOT / "Dockerfile") -> dict[str, Stage]:
    found: dict[str, Stage] = {}
    for keyword, value in instructions(path.read_text()):
        if keyword == "FROM":
            words = value.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(found))
            found[name] = Stage(name, words[0])
        elif found:
            list(found.values())[-1].instructions.append((keyword, value))
    return found


def user_ids(stage: Stage) -> tuple[int, int]:
    """The numeric ``USER uid:gid`` the stage ends with (Kubernetes' runAsNonRoot needs numbers)."""
    uid, _, gid = stage.last("USER").partition(":")
    assert uid.isdigit() and gid.isdigit(), f"USER {stage.last('USER')!r} is not numeric uid:gid"
    return int(uid), int(gid)


# --- .dockerignore ----------------------------------------------------------------------------------


def _regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern (Go's filepath.Match plus ``**``) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


@dataclass
class Ignore:
    rules: list[tuple[str, re.Pattern, bool]]  # (pattern, its regex, excludes) in file order; the last match decides

    @classmethod
    def read(cls, path: Path = ROOT / ".dockerignore") -> Ignore:
        rules = []
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                pattern = line.lstrip("!").strip("/")
                rules.append((pattern, _regex(pattern), not line.startswith("!")))
        return cls(rules)

    def excludes(self, relative: str) -> bool:
        """Docker's rule: a pattern matches a path or any of its parent folders; the last match wins."""
        parts = relative.split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = False
        for _, regex, excludes in self.rules:
            if any(regex.match(candidate) for candidate in candidates):
                excluded = excludes
        return excluded

    def _may_reinclude_below(self, folder: str) -> bool:
        return any(not ex and (p.startswith(folder + "/") or p.startswith("**")) for p, _, ex in self.rules)

    def context(self, root: Path = ROOT) -> list[str]:
        """The files ``docker build`` would send, relative to ``root``."""
        kept = []
        for folder, dirs, files in os.walk(root):
            rel = Path(folder).relative_to(root)
            dirs[:] = sorted(
                d for d in dirs if not self.excludes(str(rel / d)) or self._may_reinclude_below(str(rel / d))
            )
            kept.extend(str(rel / f) for f in files if not self.excludes(str(rel / f)))
        return sorted(kept)
