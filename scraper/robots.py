"""robots.txt read as RFC 9309 says, which Python's urllib.robotparser does not.

urllib.robotparser takes the first rule that matches, not the longest; it reads `*` and
`$` as plain characters; and a byte-order mark before the first line hides that line's
group. So "Allow: /" before "Disallow: /v1/file/" let every file through, and
"Disallow: /*/file/" forbade nothing. Here: the groups naming the crawler's product token
(case-insensitive), else those of `*`, merged; the longest matching rule wins, an Allow
on a tie; `*` matches any characters and a final `$` the end of the path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit


@dataclass
class _Group:
    agents: list[str] = field(default_factory=list)
    rules: list[tuple[bool, str]] = field(default_factory=list)  # (allow, pattern)
    crawl_delay: float | None = None


@dataclass
class RobotsRules:
    """The rules of one robots.txt; `parse("")` allows everything."""

    groups: list[_Group] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> RobotsRules:
        groups: list[_Group] = []
        current: _Group | None = None
        in_rules = False  # a user-agent line after rules starts a new group
        for raw in text.lstrip("\ufeff").splitlines():
            line = raw.split("#", 1)[0].strip()
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key, value = key.strip().lower(), value.strip()
            if key == "user-agent":
                if current is None or in_rules:
                    current = _Group()
                    groups.append(current)
                    in_rules = False
                current.agents.append(value.lower())
            elif key in ("allow", "disallow") and current is not None:
                in_rules = True
                if value:  # "Disallow:" with no path allows everything: no rule
                    current.rules.append((key == "allow", value))
            elif key == "crawl-delay" and current is not None:
                in_rules = True
                try:
                    current.crawl_delay = float(value)
                except ValueError:
                    pass  # not a number: no delay asked for
        return cls(groups)

    def _groups_for(self, user_agent: str) -> list[_Group]:
        token = _product_token(user_agent)
        named = [g for g in self.groups if token in g.agents]
        return named or [g for g in self.groups if "*" in g.agents]

    def can_fetch(self, user_agent: str, url: str) -> bool:
        parts = urlsplit(url)
        path = _normalised(parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if path == "/robots.txt":
            return True
        best: tuple[int, bool] | None = None  # (length of the rule, allow)
        for group in self._groups_for(user_agent):
            for allow, pattern in group.rules:
                if _matches(pattern, path):
                    candidate = (len(pattern), allow)
                    if best is None or candidate > best:  # longer wins; Allow on a tie
                        best = candidate
        return True if best is None else best[1]

    def crawl_delay(self, user_agent: str) -> float | None:
        delays = [g.crawl_delay for g in self._groups_for(user_agent)
                  if g.crawl_delay is not None]
        return max(delays) if delays else None


def _product_token(user_agent: str) -> str:
    """"sendlens/0.1 (+https://...)" -> "sendlens"."""
    return re.split(r"[/\s]", user_agent.strip(), maxsplit=1)[0].lower()


def _normalised(path: str) -> str:
    # Percent-encoded octets compare as what they encode ("%7E" and "~").
    return unquote(path)


def _matches(pattern: str, path: str) -> bool:
    anchored = pattern.endswith("$")
    body = _normalised(pattern[:-1] if anchored else pattern)
    regex = ".*".join(re.escape(piece) for piece in body.split("*"))
    return re.match(regex + ("$" if anchored else ""), path, re.DOTALL) is not None
