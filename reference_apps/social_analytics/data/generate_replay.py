"""Writes replay.jsonl.gz, the bundled posts the ``replay:`` source plays back.

Every post is made here from templates and a vocabulary written for this project (no third-party
text), with a fixed seed so the file is the same on every run: ``python -m
reference_apps.social_analytics.data.generate_replay``. Each post carries the sentiment its
template was written to express (``label``), which VADER mostly but not always agrees with.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

SEED = 13
COUNT = 3000
OUTPUT = Path(__file__).with_name("replay.jsonl.gz")

TOPICS: dict[str, dict[str, list[str]]] = {
    "solar": {
        "thing": [
            "solar panels",
            "the solar farm",
            "our rooftop solar",
            "solar power",
            "the solar PV array",
        ],
        "detail": [
            "on a cloudy day",
            "this month",
            "since the upgrade",
            "after the storm",
            "in winter",
        ],
    },
    "football": {
        "thing": [
            "the football match",
            "our football team",
            "football tonight",
            "the football derby",
        ],
        "detail": ["in the second half", "at the stadium", "on the radio", "after extra time"],
    },
    "coffee": {
        "thing": [
            "this coffee",
            "the coffee at the station",
            "my morning coffee",
            "the new coffee blend",
        ],
        "detail": ["before work", "with oat milk", "at the corner shop", "on a rainy morning"],
    },
    "railway": {
        "thing": [
            "the railway",
            "the railway service",
            "the night train on this railway",
            "railway staff",
        ],
        "detail": ["this morning", "on the coast line", "during the holidays", "at rush hour"],
    },
    "python": {
        "thing": ["Python 3", "the python release", "python packaging", "writing python"],
        "detail": ["for data work", "on a small team", "at the meetup", "in production"],
    },
}

TEMPLATES: dict[str, list[str]] = {
    "positive": [
        "I love {thing} {detail}!",
        "{Thing} was great {detail}, really happy with it",
        "Wonderful experience with {thing} {detail} :)",
        "{Thing} is excellent {detail}. Highly recommend",
        "So good: {thing} {detail}. Thanks to everyone involved",
        "Amazing how well {thing} worked {detail}",
    ],
    "negative": [
        "I hate {thing} {detail}.",
        "{Thing} was terrible {detail}, really disappointed",
        "Awful experience with {thing} {detail} :(",
        "{Thing} is broken again {detail}. Worst week",
        "So bad: {thing} {detail}. Angry and tired",
        "Horrible how {thing} failed {detail}",
    ],
    "neutral": [
        "Reading about {thing} {detail}.",
        "{Thing} {detail}: notes from the meeting",
        "Anyone know the schedule for {thing} {detail}?",
        "Posting a photo of {thing} {detail}",
        "{Thing} was discussed {detail}",
        "Question about {thing} {detail}",
    ],
}

TAGS = ["", "", "", " #today", " #news", " #community"]


def make_post(rng: random.Random, number: int) -> dict[str, str]:
    keyword = rng.choice(sorted(TOPICS))
    label = rng.choices(["positive", "neutral", "negative"], weights=[4, 3, 3])[0]
    thing = rng.choice(TOPICS[keyword]["thing"])
    text = rng.choice(TEMPLATES[label]).format(
        thing=thing,
        Thing=thing[0].upper() + thing[1:],
        detail=rng.choice(TOPICS[keyword]["detail"]),
    )
    return {
        "id": f"r{number:05d}",
        "author": f"user{rng.randrange(1, 400):03d}",
        "text": text + rng.choice(TAGS),
        "label": label,
        "topic": keyword,
    }


def generate(count: int = COUNT, seed: int = SEED) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [make_post(rng, number) for number in range(1, count + 1)]


def main() -> None:
    lines = "".join(json.dumps(post, sort_keys=True) + "\n" for post in generate())
    # mtime=0: the same bytes on every run, so the committed file only changes with the content.
    with OUTPUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(lines.encode())
    print(f"{OUTPUT.name}: {COUNT} posts, {OUTPUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
