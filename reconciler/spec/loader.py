"""YAML documents (specs, fleet files) into validated models, reporting every problem with its
file, line and field path (``schema.yaml:14: tables.public.agents.indexes[2].where: …``). The spec
itself is assembled from the kinds' parts in :mod:`reconciler.resources.document`.
"""

from __future__ import annotations

import difflib
import hashlib
import typing
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from reconciler.base.errors import Problem, SpecError
from reconciler.base.kinds import SpecPath
from reconciler.spec.types import format_path


@dataclass(frozen=True)
class SpecSource:
    """Where a spec came from: its file name, the line of every path in it, and its hash."""

    file: str
    sha256: str
    lines: dict[SpecPath, int] = field(default_factory=dict, repr=False)

    def line_of(self, path: SpecPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def problem(self, path: SpecPath, message: str) -> Problem:
        """A located :class:`Problem` for ``path``."""
        return Problem(self.file, self.line_of(path), format_path(path), message)


_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Constructor(_SafeLoader):  # type: ignore[valid-type,misc]
    """PyYAML's safe loader (libyaml's C parser when available): nodes with their marks, and
    the safe constructor to turn scalar nodes into Python values.

    A spec repeats the same keys and values thousands of times, and the safe loader has no path
    resolvers, so a node's tag depends only on its kind, text and implicitness: each is resolved
    once (PyYAML's regular-expression resolver ran 86,000 times for a 14,000-line spec)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tags: dict[tuple[Any, str, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
            return str(super().resolve(kind, value, implicit))
        key = (kind, value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag


_STR_TAG = "tag:yaml.org,2002:str"
MAX_DEPTH = 64               # levels of nesting: a spec needs about eight
MAX_ALIAS_EXPANSION = 100_000  # nodes reached again through aliases (a "billion laughs" reaches billions)


class _Bounds:
    """What a document may cost to turn into data: nesting depth and alias expansion."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.seen: set[int] = set()
        self.again = 0

    def enter(self, node: yaml.Node, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise SpecError([Problem(self.file, node.start_mark.line + 1, "",
                                     f"nested more than {MAX_DEPTH} levels deep (a spec needs far fewer)")])
        if isinstance(node, yaml.CollectionNode):
            if id(node) in self.seen:
                self.again += len(node.value) + 1
                if self.again > MAX_ALIAS_EXPANSION:
                    raise SpecError([Problem(self.file, node.start_mark.line + 1, "",
                                             f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} repeated nodes "
                                             f"(an alias of an alias of …); write the spec out")])
            else:
                self.seen.add(id(node))


def _to_python(node: yaml.Node, path: SpecPath, lines: dict[SpecPath, int], problems: list[Problem], file: str,
               loader: yaml.SafeLoader, bounds: _Bounds | None = None) -> Any:
    bounds = bounds or _Bounds(file)
    bounds.enter(node, len(path))
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if key_node.tag == _STR_TAG else loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                problems.append(Problem(file, key_node.start_mark.line + 1, format_path(path),
                                        "mapping keys must be plain text"))
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                problems.append(Problem(file, key_node.start_mark.line + 1, format_path(path + (key,)),
                                        f"duplicate key {key!r} (first at line {lines[path + (key,)]})"))
                continue
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, path + (key,), lines, problems, file, loader, bounds)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, path + (i,), lines, problems, file, loader, bounds)
                for i, item in enumerate(node.value)]
    if node.tag == _STR_TAG:
        return node.value
    return loader.construct_object(node, deep=True)


def parse_yaml(text: str, file: str) -> tuple[Any, dict[SpecPath, int]]:
    """Parse YAML text into Python data and a map from each path to its line.

    Raises :class:`SpecError` for syntax errors and duplicate keys.
    """
    loader = _Constructor(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SpecError([Problem(file, line, "", f"YAML syntax error: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(file, None, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    lines: dict[SpecPath, int] = {}
    problems: list[Problem] = []
    if node is None:
        return None, lines
    try:
        data = _to_python(node, (), lines, problems, file, loader)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise SpecError([Problem(file, mark.line + 1 if mark else None, "", f"YAML error: {exc.problem}")]) from None
    if problems:
        raise SpecError(problems)
    return data, lines


M = typing.TypeVar("M", bound=BaseModel)


def validate_document(text: str, file: str, model: type[M], what: str = "spec") -> tuple[M, SpecSource]:
    """Parse YAML ``text`` and validate it as ``model``; every problem is located (file, line,
    field path). Used for specs and fleet files alike."""
    data, lines = parse_yaml(text, file)
    source = SpecSource(file=file, sha256=hashlib.sha256(text.encode()).hexdigest(), lines=lines)
    if not isinstance(data, dict):
        raise SpecError([Problem(file, source.line_of(()), "", f"the {what} must be a mapping with 'version: 1'")])
    try:
        return model.model_validate(data), source
    except ValidationError as exc:
        raise SpecError(_problems_from(exc, data, source, model)) from None


def _data_path(loc: tuple[str | int, ...], data: Any) -> SpecPath:
    """Keep the parts of a pydantic ``loc`` that exist in the data (drop union tags)."""
    path: list[str | int] = []
    current = data
    for part in loc:
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and not part[:1].isupper() \
                and "[" not in part and part not in ("str", "int", "float", "bool"):
            path.append(part)  # a missing field: name it
            current = None
    return tuple(path)


def _model_at(path: SpecPath, root: type[BaseModel]) -> type[BaseModel] | None:
    """The model that holds the mapping at ``path`` (to suggest the keys it accepts)."""
    current: Any = root
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or name: f for name, f in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        elif typing.get_origin(current) is list:
            current = typing.get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _problems_from(exc: ValidationError, data: Any, source: SpecSource,
                   root: type[BaseModel]) -> list[Problem]:
    problems: dict[str, Problem] = {}
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = _data_path(loc, data)
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(path[:-1], root)
            message = f"unknown key {path[-1]!r}"
            if model is not None:
                allowed = [f.alias or n for n, f in model.model_fields.items()]
                close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
                message += f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
        elif kind == "missing":
            message = "required field is missing"
        else:
            message = err["msg"].removeprefix("Value error, ")
        problem = source.problem(path, message)
        key = str(problem)
        problems.setdefault(key, problem)
    return list(problems.values())
