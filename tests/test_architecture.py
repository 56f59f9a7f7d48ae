"""Imports point one way: webmap -> layers -> geo. Walks the source with ast."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "geo": {"flask", "folium", "layers", "webmap", "werkzeug", "jinja2"},
    "layers": {"flask", "folium", "webmap", "werkzeug", "jinja2"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_points_back(package):
    offenders = []
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no source found in {package}/"
    for path in files:
        bad = imported_modules(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offenders == []


def test_checker_would_catch_a_back_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("from webmap.app import create_app\nimport flask.json\n")
    assert imported_modules(module) == {"webmap", "flask"}


def test_each_package_states_its_import_rule():
    for package in ("geo", "layers", "webmap"):
        text = (ROOT / package / "README.md").read_text(encoding="utf-8")
        assert "import" in text.lower()


# --- size, cycles and views: the shape issue #13 asks for -----------------------------

PACKAGES = ("geo", "layers", "webmap")
MAX_FUNCTION_CODE_LINES = 60
MAX_MODULE_LINES = 800


def source_files(root: Path, packages=PACKAGES) -> list[Path]:
    return [p for package in packages for p in sorted((root / package).rglob("*.py"))]


def _docstring_lines(tree: ast.AST) -> set[int]:
    """Line numbers of every docstring in ``tree`` (module, class and function ones)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def long_functions(root: Path, packages=PACKAGES, limit=MAX_FUNCTION_CODE_LINES) -> list[str]:
    """``path:line name (N)`` of each function with more than ``limit`` code lines:
    lines that are not blank, not only a comment and not in a docstring."""
    found = []
    for path in source_files(root, packages):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text, filename=str(path))
        docs = _docstring_lines(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            span = range(node.lineno, (node.end_lineno or node.lineno) + 1)
            code = [
                i
                for i in span
                if i not in docs
                and lines[i - 1].strip()
                and not lines[i - 1].strip().startswith("#")
            ]
            if len(code) > limit:
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({len(code)})")
    return found


def long_modules(root: Path, packages=PACKAGES, limit=MAX_MODULE_LINES) -> list[str]:
    """``path (N lines)`` of each module longer than ``limit`` raw lines."""
    found = []
    for path in source_files(root, packages):
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > limit:
            found.append(f"{path.relative_to(root)} ({count} lines)")
    return found


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph(root: Path, packages=PACKAGES) -> dict[str, set[str]]:
    """Each module of ``packages`` -> the modules of ``packages`` it imports anywhere in the
    file: at the top, in a function, under ``TYPE_CHECKING``, relative or absolute."""
    paths = {module_name(root, p): p for p in source_files(root, packages)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        deps: set[str] = set()
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{alias.name}" for alias in node.names] + [module]
                targets = [t for t in targets[:-1] if t in paths] or [module]
            else:
                continue
            for target in targets:
                parts = target.split(".")
                while parts and ".".join(parts) not in paths:
                    parts.pop()
                if parts:
                    deps.add(".".join(parts))
        deps.discard(name)
        graph[name] = deps
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def view_imports(root: Path) -> list[str]:
    """``view -> other view`` for each module of webmap/views that imports another one."""
    graph = module_graph(root, ("webmap",))
    views = {n for n in graph if n.startswith("webmap.views.")}
    return [f"{v} -> {d}" for v in sorted(views) for d in sorted(graph[v] & views)]


def test_no_function_over_60_code_lines():
    assert long_functions(ROOT) == []


def test_no_module_over_800_lines():
    assert long_modules(ROOT) == []


def test_no_import_cycle_inside_any_package():
    assert import_cycles(module_graph(ROOT)) == []


def test_no_view_imports_another_view():
    assert view_imports(ROOT) == []


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_size_checks_would_catch_a_long_function_and_module(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(61))
    short = "".join(f"    x{i} = {i}\n    # why\n\n" for i in range(59))  # def + 59
    doc = '    """' + "\n" * 30 + '    """\n'
    write_package(
        tmp_path,
        {
            "geo/__init__.py": "",
            "geo/long.py": f"def too_long():\n{body}",
            "geo/fine.py": f"def fine():\n{doc}{short[:-1]}" + "\n" * 800,
        },
    )
    assert long_functions(tmp_path) == ["geo/long.py:1 too_long (62)"]
    lines = len((tmp_path / "geo" / "fine.py").read_text().splitlines())
    assert lines > 800
    assert long_modules(tmp_path) == [f"geo/fine.py ({lines} lines)"]


def test_cycle_check_would_catch_hidden_and_relative_imports(tmp_path):
    write_package(
        tmp_path,
        {
            "layers/__init__.py": "",
            "layers/a.py": "from layers import b\n",
            "layers/b.py": "def f():\n    from .c import thing\n",
            "layers/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    import layers.a\n",
            "layers/d.py": "from layers.a import x\n",
        },
    )
    graph = module_graph(tmp_path, ("layers",))
    assert graph["layers.b"] == {"layers.c"}
    assert graph["layers.c"] == {"layers.a"}
    assert import_cycles(graph) == [["layers.a", "layers.b", "layers.c"]]
    assert import_cycles({"x": {"y"}, "y": set()}) == []


def test_view_check_would_catch_a_view_importing_a_view(tmp_path):
    write_package(
        tmp_path,
        {
            "webmap/__init__.py": "",
            "webmap/extensions.py": "",
            "webmap/app.py": "from webmap.views import home, maps\n",
            "webmap/views/__init__.py": "",
            "webmap/views/home.py": "from webmap.extensions import get_store\n",
            "webmap/views/maps.py": "from webmap.views.home import index\n",
        },
    )
    assert view_imports(tmp_path) == ["webmap.views.maps -> webmap.views.home"]
