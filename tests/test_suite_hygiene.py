"""Rules for the test suite itself.

No wall-clock assertion: a test that compares a measured time against a number fails on a
busy machine (CI, a laptop on battery) although nothing is wrong. Times belong in
``scripts/bench.py``, which reports them as rows of docs/BENCHMARKS.md, with a peer
measured in the same run where one exists. The check below reads every test file with
``ast`` and refuses an ``assert`` that compares a time measurement (the result of
``time.perf_counter()``, ``time.time()``, ``time.monotonic()`` and their ``_ns`` forms, or
a name or difference computed from one) against a number.
"""

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
CLOCKS = {"perf_counter", "time", "monotonic", "process_time", "thread_time"}
CLOCKS |= {f"{name}_ns" for name in CLOCKS}
# Calls that keep a time a time: round(elapsed, 2) < 1 is still a wall-clock assertion.
PASS_THROUGH = {"round", "abs", "float", "int", "min", "max", "sum", "sorted", "list", "median"}


def _key(node: ast.AST) -> str | None:
    """A name for a variable or attribute target: ``elapsed``, ``.started_at``; an item
    stands for its container (``figures[name] = ...`` makes ``figures`` a time)."""
    if isinstance(node, ast.Subscript):
        return _key(node.value)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f".{node.attr}"
    return None


def _is_clock_call(node: ast.AST) -> bool:
    """``time.perf_counter()`` or a bare ``perf_counter()`` (from-imported)."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr in CLOCKS and isinstance(func.value, ast.Name) and func.value.id == "time"
    return isinstance(func, ast.Name) and func.id in CLOCKS - {"time"}


def _bindings(tree: ast.Module):
    """(target, value) of every assignment, append, extend and loop variable."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            yield from ((target, node.value) for target in node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value:
            yield node.target, node.value
        elif isinstance(node, (ast.For, ast.comprehension)):
            yield node.target, node.iter
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("append", "extend")
            and len(node.args) == 1
        ):
            yield node.func.value, node.args[0]


class _Scan:
    """The names bound to times and to numbers in one module, and the checks against them."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.timed: set[str] = set()
        self.numbers: set[str] = set()
        assignments = list(_bindings(tree))
        changed = True
        while changed:  # until no more names become times or numbers
            changed = False
            for target, value in assignments:
                key = _key(target)
                for kind, test in ((self.timed, self.is_time), (self.numbers, self.is_number)):
                    if key and key not in kind and test(value):
                        kind.add(key)
                        changed = True

    def is_time(self, node: ast.AST) -> bool:
        if _is_clock_call(node):
            return True
        if (key := _key(node)) is not None:
            return key in self.timed
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return node.func.attr == "values" and self.is_time(node.func.value)
        if isinstance(node, ast.Subscript):
            return self.is_time(node.value)
        if isinstance(node, ast.BinOp):
            return self.is_time(node.left) or self.is_time(node.right)
        if isinstance(node, ast.UnaryOp):
            return self.is_time(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return node.func.id in PASS_THROUGH and any(map(self.is_time, node.args))
        return False

    def is_number(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        if isinstance(node, ast.Name):
            return node.id in self.numbers
        if isinstance(node, ast.UnaryOp):
            return self.is_number(node.operand)
        if isinstance(node, ast.BinOp):
            return self.is_number(node.left) and self.is_number(node.right)
        return False

    def timing_asserts(self) -> list[int]:
        """Line numbers of asserts that compare a time against a number."""
        lines = []
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Assert):
                continue
            for compare in ast.walk(node.test):
                if not isinstance(compare, ast.Compare):
                    continue
                sides = [compare.left, *compare.comparators]
                if any(map(self.is_time, sides)) and any(map(self.is_number, sides)):
                    lines.append(node.lineno)
                    break
        return lines


def timing_asserts(source: str) -> list[int]:
    """Line numbers of the wall-clock assertions in a module's source."""
    return _Scan(ast.parse(source)).timing_asserts()


def test_no_wall_clock_assertion_in_the_tests():
    found = [
        f"{path.relative_to(TESTS.parent)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        if "data" not in path.relative_to(TESTS).parts
        for line in timing_asserts(path.read_text(encoding="utf-8"))
    ]
    assert not found, (
        "wall-clock assertions (move the measurement to scripts/bench.py): " + ", ".join(found)
    )


CAUGHT = {
    "difference": "import time\nt0 = time.perf_counter()\nwork()\n"
    "assert time.perf_counter() - t0 < 2.0\n",
    "named elapsed": "import time\nstart = time.monotonic()\nwork()\n"
    "elapsed = time.monotonic() - start\nassert elapsed < 1\n",
    "named limit": "from time import perf_counter\nLIMIT_S = 2 * 1.5\n"
    "def test():\n    began = perf_counter()\n    took = perf_counter() - began\n"
    "    assert ok and round(took, 2) <= LIMIT_S\n",
    "lower bound": "import time\ns = time.time()\ncheck()\nassert time.time() - s > 0.005\n",
    "attribute": "import time\nself.at = time.monotonic_ns()\nassert self.at - base < 10**9\n",
    "collected": "import time\ntimes, figures = [], {}\nfor i in range(5):\n"
    "    start = time.perf_counter()\n    work(i)\n    times.append(time.perf_counter() - start)\n"
    "figures['a'] = sorted(times)[2] * 1000\nassert all(v < 1000 for v in figures.values())\n",
}

ALLOWED = {
    "a clock as an argument": "import time\nassert staging.expire(now=time.time() + 30) == 0\n",
    "a deadline loop": "import time\nend = time.monotonic() + 5\n"
    "while time.monotonic() < end:\n    poll()\n",
    "a count": "import time\nt = time.perf_counter()\nassert len(rows) < 10\n",
    "two times": "import time\na = time.time()\nb = time.time()\nassert a <= b\n",
    "a time module attribute": "import time\nassert time.timezone == 0\n",
}


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_the_check_catches_a_wall_clock_assertion(name):
    source = CAUGHT[name]
    assert timing_asserts(source) == [source.count("\n")]


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_the_check_allows_other_uses_of_the_clock(name):
    assert timing_asserts(ALLOWED[name]) == []


# Geometry helpers live in one catalogue, tests/support/geometries.py.
CATALOGUE_NAMES = {"point", "pt", "line", "poly", "polygon", "square", "rectangle", "fwd", "north"}


def local_geometry_helpers(source: str) -> list[str]:
    """Module-level functions of a test file named like a helper of the catalogue."""
    return [
        node.name
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name in CATALOGUE_NAMES
    ]


def test_geometry_helpers_come_from_the_catalogue():
    found = [
        f"{path.relative_to(TESTS.parent)}: {name}()"
        for path in sorted(TESTS.rglob("*.py"))
        if not {"data", "support"} & set(path.relative_to(TESTS).parts)
        for name in local_geometry_helpers(path.read_text(encoding="utf-8"))
    ]
    assert not found, "use tests/support/geometries.py (from geometries import ...): " + str(found)


def test_the_helper_check_catches_a_local_point():
    source = "def point(lon=112.8, lat=39.5):\n    return {'type': 'Point'}\n"
    assert local_geometry_helpers(source) == ["point"]
    assert local_geometry_helpers("from geometries import point\n") == []
