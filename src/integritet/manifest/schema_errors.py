"""Pydantic validation errors -> human messages with the key path they are about.

Pydantic reports ``loc`` tuples that mix data keys with schema tags (union
branches such as ``function-plain[validate()]``). :func:`describe_validation_error`
splits each loc into the part that exists in the document and the rest, merges
the errors of one union into one message, and words each error for a person
writing YAML ("expected one of: consent, contract, ...", "unknown key 'x'
(did you mean 'y'?)").
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from integritet.manifest.model import Loc, Manifest

Described = tuple[Loc, str, bool]
"""(key path, message, point at the key rather than the value)."""

_ID_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
_COUNTRY_PATTERN = r"^[A-Z]{2}$"


def describe_validation_error(exc: ValidationError, data: Any) -> list[Described]:
    """One (loc, message, at_key) per problem, union branches merged."""
    groups: dict[tuple[Loc, str], list[tuple[ErrorDetails, Loc]]] = {}
    for error in exc.errors(include_url=False):
        path, rest = _split(error["loc"], data)
        missing = _missing_key(error, rest)
        groups.setdefault((path, missing), []).append((error, rest))
    out: list[Described] = []
    for (path, missing), errors in groups.items():
        if missing:
            out.append(((*path, missing), f"missing required key {missing!r}", True))
        elif len(errors) == 1:
            error = errors[0][0]
            out.append((path, _describe(error, path), error["type"] == "extra_forbidden"))
        else:
            out.append((path, _describe_union([e for e, _ in errors], path), False))
    return out


def _split(loc: tuple[int | str, ...], data: Any) -> tuple[Loc, Loc]:
    """The prefix of ``loc`` that exists in ``data``, and the rest."""
    current = data
    for index, part in enumerate(loc):
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            return tuple(loc[:index]), tuple(loc[index:])
    return tuple(loc), ()


def _missing_key(error: ErrorDetails, rest: Loc) -> str:
    if error["type"] != "missing" or not rest:
        return ""
    last = rest[-1]
    return last if isinstance(last, str) else ""


# --------------------------------------------------------------------------- wording


def _describe(error: ErrorDetails, path: Loc) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    value = error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(path)
    if kind in ("enum", "literal_error"):
        return _expected_one_of(ctx.get("expected", ""), value)
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        return _pattern_message(str(ctx.get("pattern", "")), value)
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _expected_mapping(path, value)
    if kind == "too_short":
        if isinstance(value, str):
            return "must not be empty"
        return f"must have at least {ctx.get('min_length', 1)} item(s), found none"
    simple = _SIMPLE.get(kind)
    if simple is not None:
        return f"{simple}, found {_kind_of(value)}" + _quote_hint(kind, value)
    bound = _BOUNDS.get(kind)
    if bound is not None:
        word, key = bound
        return f"must be {word} {ctx.get(key)}, found {value!r}"
    return str(error["msg"])


_SIMPLE = {
    "string_type": "expected a text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected a list (- item lines or [a, b])",
    "date_type": "expected a date like 2024-01-15",
    "date_parsing": "expected a date like 2024-01-15",
    "date_from_datetime_parsing": "expected a date like 2024-01-15",
    "date_from_datetime_inexact": "expected a date without a time, like 2024-01-15",
}
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "less_than_equal": ("at most", "le"),
    "greater_than": ("more than", "gt"),
    "less_than": ("less than", "lt"),
}


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}" if len(value) <= 40 else "a text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (an empty value)"
    return type(value).__name__


def _quote_hint(kind: str, value: Any) -> str:
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return f'; write it in quotes, e.g. "{value}"'
    return ""


def _expected_one_of(expected: str, value: Any) -> str:
    names = re.findall(r"'([^']*)'", expected) or [expected]
    if len(names) == 1:
        return f"expected {names[0]}, found {_kind_of(value)}"
    message = f"expected one of: {', '.join(names)}; found {_kind_of(value)}"
    if isinstance(value, str):
        close = difflib.get_close_matches(value, names, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    return message


def _pattern_message(pattern: str, value: Any) -> str:
    if pattern == _ID_PATTERN:
        return (
            f"bad id {value!r}: use 1-64 lowercase letters, digits, '_' or '-', "
            "starting with a letter"
        )
    if pattern == _COUNTRY_PATTERN:
        return f"bad country code {value!r}: use two capital letters (ISO 3166), e.g. SE"
    return f"{value!r} does not match the pattern {pattern}"


def _unknown_key(path: Loc) -> str:
    key = str(path[-1])
    model = model_at(path[:-1])
    known = sorted(model.model_fields) if model else []
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    if known:
        return f"unknown key {key!r}; allowed here: {', '.join(known)}"
    return f"unknown key {key!r}"


def _expected_mapping(path: Loc, value: Any) -> str:
    model = model_at(path)
    keys = f" with keys {', '.join(model.model_fields)}" if model else ""
    return f"expected a mapping{keys}, found {_kind_of(value)}"


def _describe_union(errors: list[ErrorDetails], path: Loc) -> str:
    literals: list[str] = []
    others: list[str] = []
    for error in errors:
        if error["type"] in ("literal_error", "enum"):
            literals += re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        else:
            message = _describe(error, path)
            if message not in others:
                others.append(message)
    if not others:
        return _expected_one_of(", ".join(f"'{n}'" for n in literals), errors[0].get("input"))
    alternatives = f" (or {' or '.join(repr(n) for n in literals)})" if literals else ""
    return "; ".join(others) + alternatives


# --------------------------------------------------------------------------- models


def model_at(path: Loc) -> type[BaseModel] | None:
    """The pydantic model that describes the mapping at ``path`` (None if not a model)."""
    current: Any = Manifest
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str) or part not in current.model_fields:
                return None
            current = _unwrap(current.model_fields[part].annotation)
        else:
            args = typing.get_args(current)
            origin = typing.get_origin(current)
            if origin is list and args:
                current = _unwrap(args[0])
            elif origin is dict and len(args) == 2:
                current = _unwrap(args[1])
            else:
                return None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``; other unions -> their first model member."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        for member in members:
            if isinstance(member, type) and issubclass(member, BaseModel):
                return member
        return members[0] if len(members) == 1 else annotation
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation
