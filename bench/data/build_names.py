"""Derive the compact offline name gazetteer shipped in ``integritet/pii/data/names.tsv``.

Run once by a developer, never at run time (it needs ~4 GB of RAM)::

    python -m venv /tmp/names && /tmp/names/bin/pip install names-dataset==3.3.1
    /tmp/names/bin/python bench/data/build_names.py src/integritet/pii/data/names.tsv

Source: the ``names-dataset`` package on PyPI (MIT licence), which carries first- and
last-name frequency ranks per country. Only the highest-ranked names of a few countries
are kept (names and a kind flag; no frequencies, genders or anything else), so the file
stays small and offline. See docs/pii.md for the licence and provenance note.
"""

from __future__ import annotations

import sys
from pathlib import Path

from names_dataset import NameDataset  # type: ignore[import-not-found]

# country -> (first names per gender, last names)
COUNTRIES = {
    "SE": (1500, 3000),
    "NO": (150, 200),
    "DK": (150, 200),
    "FI": (200, 300),
    "GB": (300, 400),
    "US": (300, 400),
    "DE": (100, 150),
    "PL": (100, 150),
    "TR": (100, 150),
    "IQ": (100, 100),
    "SY": (100, 100),
    "IR": (100, 100),
}


def _clean(name: str) -> str | None:
    name = name.strip()
    if len(name) < 2 or not name[0].isupper() or not name.replace("-", "").isalpha():
        return None
    return name


def main(out: Path) -> None:
    nd = NameDataset()
    first: set[str] = set()
    last: set[str] = set()
    for country, (n_first, n_last) in COUNTRIES.items():
        top = nd.get_top_names(n=n_first, country_alpha2=country)[country]
        for names in top.values():
            first.update(n for n in map(_clean, names) if n)
        top_last = nd.get_top_names(n=n_last, use_first_names=False, country_alpha2=country)
        last.update(n for n in map(_clean, top_last[country]) if n)
    lines = [f"{n}\tF" for n in sorted(first - last)]
    lines += [f"{n}\tL" for n in sorted(last - first)]
    lines += [f"{n}\tB" for n in sorted(first & last)]
    out.write_text(
        "# name\tkind (F first, L last, B both); derived from names-dataset 3.3.1\n"
        + "\n".join(lines)
        + "\n",
        encoding="utf-8",
    )
    print(f"{len(first)} first, {len(last)} last names -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
