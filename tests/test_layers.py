"""The guard that keeps the layers: the project's structural rules, checked on the source.

The runtime code (``oauthdemo/``, ``complete_oauth_demo.py`` and ``pkce.py``) is read with
``ast``, never imported, and these rules are enforced:

* every module belongs to a layer (a new top-level module must be placed on purpose);
* no import cycle among our modules;
* nothing imports a layer above it: core (with ``pkce``) imports nothing of ours; client
  and web import core; server imports core and web; teaching, native and backend import
  the layers below; settings imports core; ``cli``, ``runner`` and
  ``complete_oauth_demo`` may import anything;
* no class over 250 lines, no function over 40 lines.

Every import counts, wherever it stands (a function-level import still makes the
dependency, it only hides it from a reader). Each failure lists every offender with its
file and line, so the message alone says what to move.
"""
from __future__ import annotations

import ast
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "oauthdemo"
TOP_FILES = ("complete_oauth_demo.py", "pkce.py")
CLASS_MAX_LINES = 250
FUNCTION_MAX_LINES = 40

# What each layer may import besides itself. ``settings`` is configuration every layer
# above core may read; the top (cli, runner, the story) may import anything.
EVERYTHING = None
ALLOWED = {
    "core": {"core"},
    "settings": {"core", "settings"},
    "client": {"core", "settings", "client"},
    "web": {"core", "settings", "web"},
    "server": {"core", "settings", "web", "server"},
    "teaching": {"core", "settings", "client", "server", "web", "teaching"},
    "native": {"core", "settings", "client", "server", "web", "native"},
    "backend": {"core", "settings", "client", "server", "web", "backend"},
    "top": EVERYTHING,
}
SUBPACKAGE_LAYERS = ("core", "client", "web", "server", "teaching", "native", "backend")
TOP_MODULES = ("oauthdemo", "oauthdemo.cli", "oauthdemo.runner", "complete_oauth_demo")
UNPLACED = "unplaced"              # a new module nobody gave a layer: a test says so


# -- reading the source ---------------------------------------------------------------------

def runtime_files(root: Path = ROOT) -> dict:
    """{module name: path} of every runtime module."""
    files = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    for name in TOP_FILES:
        files[name[:-3]] = root / name
    return files


def layer_of(module: str) -> str:
    """The layer a module of ours belongs to."""
    if module == "pkce":
        return "core"                  # stdlib-only, and the walkthrough's first page
    if module in TOP_MODULES:
        return "top"
    if module == f"{PACKAGE}.settings":
        return "settings"
    parts = module.split(".")
    if parts[0] == PACKAGE and parts[1] in SUBPACKAGE_LAYERS:
        return parts[1]
    return UNPLACED


def imports_of(module: str, tree: ast.AST, known) -> list:
    """[(line, imported module of ours)] for every import in ``tree``, at any depth."""
    package = module if is_package(module, known) else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        for target in import_targets(node, package):
            resolved = resolve(target, known)
            if resolved is not None and resolved != module:
                found.append((node.lineno, resolved))
    return found


def is_package(module: str, known) -> bool:
    return any(other.startswith(module + ".") for other in known)


def import_targets(node: ast.AST, package: str) -> list:
    """The dotted names an import statement reaches (``from a import b`` reaches a.b or a)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def resolve(target: str, known) -> str | None:
    """The longest prefix of ``target`` that is one of our modules (None: not ours)."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if name in known:
            return name
    return None


def dependency_graph(sources: dict) -> dict:
    """{module: [(line, imported module)]} from {module: source text}."""
    known = set(sources)
    graph = {}
    for module, text in sources.items():
        edges = sorted(set(imports_of(module, ast.parse(text), known)))
        # ``from a.b import c`` reaches a.b.c, or a.b when c is a name: keep the deepest.
        deepest = {(line, m) for line, m in edges
                   if not any(l2 == line and o.startswith(m + ".") for l2, o in edges)}
        graph[module] = sorted(deepest)
    return graph


# -- the rules ----------------------------------------------------------------------------

def import_cycles(graph: dict) -> list:
    """Each strongly connected group of two or more modules, as one cycle through it
    (and the group's other members, which are caught in the same knot)."""
    cycles = []
    for group in strongly_connected(graph):
        if len(group) < 2:
            continue
        path = one_cycle(graph, sorted(group))
        others = sorted(set(group) - set(path.split(" → ")))
        cycles.append(path + (f" (tied in with {', '.join(others)})" if others else ""))
    return sorted(cycles)


def strongly_connected(graph: dict) -> list:
    """Tarjan's algorithm, iterative (no recursion limit to meet on a large package)."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted({m for _, m in graph[start]})))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    groups.append(pop_group(stack, on_stack, node))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted({m for _, m in graph.get(child, [])}))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def pop_group(stack: list, on_stack: set, root: str) -> list:
    group = []
    while True:
        node = stack.pop()
        on_stack.discard(node)
        group.append(node)
        if node == root:
            return group


def one_cycle(graph: dict, group: list) -> str:
    """A readable path a → b → … → a inside one strongly connected group."""
    members, start = set(group), group[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for _, child in graph[node]:
            if child == start:
                return " → ".join(paths[node] + [start])
            if child in members and child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    return " ↔ ".join(group)


def upward_imports(graph: dict, files: dict) -> list:
    """'path:line: a (layer) imports b (layer)' for every import the layers forbid."""
    found = []
    for module, edges in sorted(graph.items()):
        allowed = ALLOWED.get(layer_of(module), EVERYTHING)   # unplaced: its own test
        for line, imported in edges:
            if allowed is EVERYTHING or layer_of(imported) in allowed:
                continue
            found.append(f"{where(files, module)}:{line}: {module} ({layer_of(module)}) "
                         f"imports {imported} ({layer_of(imported)}); "
                         f"{layer_of(module)} may import {', '.join(sorted(allowed))}")
    return found


def oversized(trees: dict, files: dict) -> list:
    """'path:line: class X is N lines (limit M)' for each class or function over its limit."""
    found = []
    for module, tree in sorted(trees.items()):
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                kind, limit = "class", CLASS_MAX_LINES
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                kind, limit = "function", FUNCTION_MAX_LINES
            else:
                continue
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                found.append(f"{where(files, module)}:{node.lineno}: {kind} {node.name} is "
                             f"{lines} lines (limit {limit})")
    return found


def where(files: dict, module: str) -> str:
    path = files.get(module)
    return str(path.relative_to(ROOT)) if path is not None else module


def read_sources(files: dict) -> dict:
    return {module: path.read_text(encoding="utf-8") for module, path in files.items()}


# -- the tests ----------------------------------------------------------------------------

class TestLayers(unittest.TestCase):
    """The issue's rules, on the code as it is."""

    @classmethod
    def setUpClass(cls):
        cls.files = runtime_files()
        cls.sources = read_sources(cls.files)
        cls.graph = dependency_graph(cls.sources)

    def test_the_guard_sees_the_runtime_code(self):
        for module in ("pkce", "complete_oauth_demo", "oauthdemo.core.errors",
                       "oauthdemo.client.oidc", "oauthdemo.runner"):
            self.assertIn(module, self.files)

    def test_every_module_has_a_layer(self):
        unplaced = [f"{where(self.files, m)}: {m} is in no layer (put it in a layer's "
                    "package, or name it in TOP_MODULES)"
                    for m in sorted(self.files) if layer_of(m) == UNPLACED]
        self.assert_none(unplaced, "modules outside the layers")

    def test_no_import_cycles(self):
        self.assert_none(import_cycles(self.graph), "import cycles among runtime modules")

    def test_no_module_imports_a_layer_above_it(self):
        self.assert_none(upward_imports(self.graph, self.files), "imports of a layer above")

    def test_no_class_over_250_lines_no_function_over_40(self):
        trees = {module: ast.parse(text) for module, text in self.sources.items()}
        self.assert_none(oversized(trees, self.files), "classes or functions over the limit")

    def assert_none(self, offenders: list, title: str):
        if offenders:
            self.fail(f"{title} ({len(offenders)}):\n  " + "\n  ".join(offenders))


class TestTheGuardItself(unittest.TestCase):
    """The checks catch what they are for, on made-up modules (so a green run means something)."""

    SOURCES = {
        "pkce": "import hashlib\n",
        "oauthdemo": "",
        "oauthdemo.core": "",
        "oauthdemo.core.errors": "import pkce\n",
        "oauthdemo.core.jose": "from oauthdemo.core.errors import X\n"
                               "def later():\n    from oauthdemo.server import keys\n",
        "oauthdemo.server": "",
        "oauthdemo.server.keys": "from . import handler\nfrom oauthdemo.core import jose\n",
        "oauthdemo.server.handler": "from .keys import KEY\nimport oauthdemo.web.httpkit\n",
        "oauthdemo.web": "",
        "oauthdemo.web.httpkit": "from ..teaching.narrator import Narrator\n",
        "oauthdemo.teaching": "",
        "oauthdemo.teaching.narrator": "from oauthdemo.settings import S\n",
        "oauthdemo.settings": "from oauthdemo.core.errors import ConfigError\n",
        "oauthdemo.cli": "from oauthdemo import runner, settings\nimport complete_oauth_demo\n",
        "oauthdemo.runner": "",
        "complete_oauth_demo": "from oauthdemo import cli\n",
    }

    def setUp(self):
        self.graph = dependency_graph(self.SOURCES)

    def test_relative_and_from_imports_resolve_to_modules(self):
        self.assertEqual(self.graph["oauthdemo.server.keys"],
                         [(1, "oauthdemo.server.handler"), (2, "oauthdemo.core.jose")])
        self.assertEqual(self.graph["oauthdemo.web.httpkit"],
                         [(1, "oauthdemo.teaching.narrator")])
        self.assertEqual(self.graph["oauthdemo.cli"],
                         [(1, "oauthdemo.runner"), (1, "oauthdemo.settings"),
                          (2, "complete_oauth_demo")])

    def test_a_cycle_is_found_even_through_a_function_level_import(self):
        self.assertEqual(import_cycles(self.graph), [
            "complete_oauth_demo → oauthdemo.cli → complete_oauth_demo",
            "oauthdemo.core.jose → oauthdemo.server.keys → oauthdemo.core.jose "
            "(tied in with oauthdemo.server.handler)"])

    def test_upward_imports_are_named_with_their_line(self):
        upward = upward_imports(self.graph, {})
        self.assertEqual([u.split(":")[0:2] for u in upward],
                         [["oauthdemo.core.jose", "3"], ["oauthdemo.web.httpkit", "1"]])
        self.assertIn("core may import core", upward[0])

    def test_a_module_outside_the_layers_is_unplaced(self):
        self.assertEqual(layer_of("oauthdemo.helpers"), UNPLACED)
        self.assertEqual([layer_of(m) for m in ("pkce", "oauthdemo.cli", "oauthdemo.settings",
                                                "oauthdemo.web.html", "complete_oauth_demo")],
                         ["core", "top", "settings", "web", "top"])

    def test_sizes_are_measured_per_class_and_function(self):
        body = "".join(f"    x{i} = {i}\n" for i in range(FUNCTION_MAX_LINES))
        tree = ast.parse(f"def long():\n{body}\ndef short():\n    pass\n")
        self.assertEqual(oversized({"m": tree}, {}),
                         [f"m:1: function long is {FUNCTION_MAX_LINES + 1} lines (limit 40)"])


if __name__ == "__main__":
    unittest.main()
