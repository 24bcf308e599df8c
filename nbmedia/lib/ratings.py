"""The user's 👍/👎 on results, and providers ranked by them."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

RATINGS = (1, -1, None)
COLUMNS = ["provider", "up", "down", "rated", "prompts", "share_up", "score"]


def leaderboard(rated: Iterable[tuple[str, str | None, int]]) -> pd.DataFrame:
    """(provider, prompt, rating) triples → providers ranked by the Wilson lower bound."""
    counts: dict[str, list[int]] = {}
    prompts: dict[str, set[str]] = {}
    for provider, prompt, value in rated:
        if value in (1, -1):
            counts.setdefault(provider, []).append(value)
            prompts.setdefault(provider, set()).add(prompt or "")
    records = []
    for provider, values in counts.items():
        ups = values.count(1)
        n = len(values)
        records.append(
            {
                "provider": provider,
                "up": ups,
                "down": n - ups,
                "rated": n,
                "prompts": len(prompts[provider]),
                "share_up": ups / n,
                "score": wilson(ups, n),
            }
        )
    df = pd.DataFrame.from_records(records, columns=COLUMNS)
    return df.sort_values(["score", "rated"], ascending=False).reset_index(drop=True)


def wilson(ups: int, n: int, z: float = 1.96) -> float:
    """Lower bound of the Wilson interval: few ratings rank below many good ones."""
    if n == 0:
        return 0.0
    p = ups / n
    centre = p + z * z / (2 * n)
    margin = z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5
    return (centre - margin) / (1 + z * z / n)
