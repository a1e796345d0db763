"""The house rules, checked on the source: small modules, one-way imports, no cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "synthgen"
STAGES = ("expand", "filter", "dedup", "report", "audit")
SHARED = ("core", "llm", "text", "seeds", "records", "config", "errors", "prompts", "rubrics")
SHARED += ("documents",)


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every synthgen module `name` imports, at any depth of its code (lazy imports count)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in MODULES else node.module)
    # The root package is the API facade (its imports are lazy); see
    # test_only_the_faces_import_the_package_root.
    return {m for m in found if m in MODULES and m not in (name, "synthgen")}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _area(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "stages":
        return f"stages.{parts[2]}"
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m]):
            if state.get(n) == 1:
                cycle = [*stack[stack.index(n) :], n]
                raise AssertionError("import cycle: " + " → ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_imports_only_go_down() -> None:
    bad = []
    for m, deps in GRAPH.items():
        area = _area(m)
        for d in deps:
            target = _area(d)
            if target == "cli" and area not in ("cli", "__main__"):
                bad.append(f"{m} imports the CLI ({d})")
            elif target == "pipeline" and area not in ("pipeline", "cli", "__main__", "api", ""):
                bad.append(f"{m} imports the run loop ({d}): only the API and the CLI may")
            elif target.startswith("stages.") and area in SHARED:
                bad.append(f"shared {m} imports a stage ({d})")
            elif (
                target.startswith("stages.")
                and area.startswith("stages.")
                and target != area
                # The one crossing: report reads audit verdicts through audit's package API.
                and not (area == "stages.report" and d == "synthgen.stages.audit")
            ):
                bad.append(f"{m} reaches into another stage ({d})")
    assert not bad, "\n".join(sorted(bad))


def _imports_the_root(path: Path) -> bool:
    """Whether the module imports the package root itself (not one of its modules)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(a.name == "synthgen" for a in node.names):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "synthgen"
            and node.level == 0
            and any(f"synthgen.{a.name}" not in MODULES for a in node.names)
        ):
            return True
    return False


def test_only_the_faces_import_the_package_root() -> None:
    """The root is the API facade: a stage reading it (for __version__, say) would import the
    API; synthgen.version holds the number."""
    faces = ("synthgen", "synthgen.api", "synthgen.__main__")
    bad = [
        m
        for m, path in MODULES.items()
        if m not in faces and _area(m) != "cli" and _imports_the_root(path)
    ]
    assert not bad, bad


def test_config_is_below_the_engine_and_the_engine_knows_no_prompts() -> None:
    """config (and its fingerprint) imports nothing from llm; llm imports no prompt and no
    stage."""
    config = ("synthgen.config", "synthgen.configfile", "synthgen.fingerprint")
    bad = [f"{m} imports {d}" for m in config for d in GRAPH[m] if _area(d) == "llm"]
    bad += [
        f"{m} imports {d}"
        for m, deps in GRAPH.items()
        if _area(m) == "llm"
        for d in deps
        if _area(d) == "prompts" or _area(d).startswith("stages")
    ]
    assert not bad, "\n".join(sorted(bad))


def test_the_run_loop_does_not_import_its_parent() -> None:
    """pipeline/'s modules import each other, never the package itself."""
    bad = [m for m, deps in GRAPH.items() if _area(m) == "pipeline" and "synthgen.pipeline" in deps]
    assert not bad, bad


def test_no_subpackage_hides_an_api_function() -> None:
    """Importing synthgen.X.y sets synthgen.X to the subpackage: it would replace the API's
    function of that name (synthgen.expand, .filter, .dedup, .report, .run)."""
    api = {"expand", "filter", "dedup", "report", "run"}
    clashes = sorted(api & {p.name for p in PKG.iterdir() if p.is_dir()})
    assert not clashes, clashes


def test_modules_are_small_and_few_at_the_top() -> None:
    big = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 400}
    assert not big, f"modules over 400 lines: {big}"
    top = [p.name for p in PKG.glob("*.py")]
    assert len(top) <= 10, top
    assert {f"stages.{s}" for s in STAGES} <= {_area(m) for m in MODULES}


def test_exits_only_in_the_cli() -> None:
    """Stages return their outcome; only cli/ turns it into a process exit."""
    offenders = []
    for m, path in MODULES.items():
        if _area(m) == "cli" or m.endswith("__main__"):
            continue
        src = path.read_text()
        offenders += [f"{m}: {w}" for w in ("sys.exit(", "SystemExit", "ctx.exit(") if w in src]
    assert not offenders, offenders


def _undocumented(node: ast.AST, prefix: str = "") -> list[str]:
    found = []
    for n in ast.iter_child_nodes(node):
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if not n.name.startswith("_") and ast.get_docstring(n) is None:
                found.append(f"{prefix}{n.name}")
            if isinstance(n, ast.ClassDef):
                found += _undocumented(n, f"{prefix}{n.name}.")
    return found


def test_every_public_function_and_class_says_what_it_is_for() -> None:
    missing = [
        f"{m}: {name}"
        for m, path in MODULES.items()
        for name in _undocumented(ast.parse(path.read_text()))
    ]
    assert not missing, "no docstring: " + ", ".join(missing)


def test_import_synthgen_stays_light() -> None:
    code = (
        "import sys, synthgen; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('openai', 'numpy', 'pydantic', 'rich', 'click', 'httpx2', 'rensa'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


# What cli/ may import besides itself: the API it wraps, the console it talks through, and
# the errors its one boundary turns into exit codes.
CLI_MAY_IMPORT = {"synthgen.api", "synthgen.core.console", "synthgen.errors"}


def test_the_cli_is_a_face_over_the_api() -> None:
    """cli/ imports nothing from the stages, the run loop, llm or core but the console."""
    bad = [
        f"{m} imports {d}"
        for m, deps in GRAPH.items()
        if _area(m) == "cli"
        for d in deps
        if _area(d) != "cli" and d not in CLI_MAY_IMPORT
    ]
    assert not bad, "\n".join(sorted(bad))


def _commands(tree: ast.Module) -> list[ast.FunctionDef]:
    """The click commands of a module: functions with a `.command(...)` decorator."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for d in node.decorator_list:
                call = d.func if isinstance(d, ast.Call) else d
                name = call.attr if isinstance(call, ast.Attribute) else getattr(call, "id", "")
                if name == "command":
                    found.append(node)
    return found


def test_every_command_is_one_public_api_call() -> None:
    counts: dict[str, list[str]] = {}
    for m, path in MODULES.items():
        if _area(m) != "cli":
            continue
        for fn in _commands(ast.parse(path.read_text())):
            counts[f"{m}.{fn.name}"] = [
                n.func.attr
                for n in ast.walk(fn)
                if isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute)
                and isinstance(n.func.value, ast.Name)
                and n.func.value.id == "api"
            ]
    assert len(counts) >= 12, counts  # every command was found
    # A dry run is the command's other path: its plan call replaces the run's, never joins it.
    bad = {
        c: calls
        for c, calls in counts.items()
        if len([n for n in calls if not n.endswith("_plan")]) != 1
        or len(calls) - 1 > any(n.endswith("_plan") for n in calls)
        or any(n.startswith("_") for n in calls)
    }
    assert not bad, bad


MUTATORS = {"append", "add", "update", "pop", "clear", "extend", "insert", "remove"}
MUTATORS |= {"setdefault", "discard", "popitem", "appendleft", "popleft"}
CONTAINERS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)


def _module_containers(tree: ast.Module) -> set[str]:
    """Module-level names bound to a mutable container (a literal, or dict()/list()/set()...)."""
    names = set()
    for node in tree.body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        call = value.func if isinstance(value, ast.Call) else None
        called = call.attr if isinstance(call, ast.Attribute) else getattr(call, "id", "")
        mutable = isinstance(value, CONTAINERS) or called in (
            {"dict", "list", "set", "deque", "defaultdict", "WeakSet", "WeakValueDictionary"}
        )
        if mutable:
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _mutated_in_functions(tree: ast.Module, names: set[str]) -> set[str]:
    """Which of `names` a function body changes (a method that mutates, or an item store)."""
    found = set()
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        local = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
        local |= {
            t.id
            for n in ast.walk(fn)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for n in ast.walk(fn):
            target = None
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
                if n.func.attr in MUTATORS:
                    target = n.func.value
            elif isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store | ast.Del):
                target = n.value
            if isinstance(target, ast.Name) and target.id in names - local:
                found.add(target.id)
    return found


# Allowed: a pool worker's own state, in its own process (a task of a process pool has no
# object to hold it between tasks); never the state of the process that runs the command.
WORKER_STATE = {"synthgen.stages.dedup.bands": {"_WORKER_BANDS"}}


def test_no_module_level_mutable_state() -> None:
    """No `global`, and no module-level container that functions change: state lives in
    objects that are passed in (the console, the live request counters)."""
    bad = []
    for m, path in MODULES.items():
        tree = ast.parse(path.read_text())
        bad += [
            f"{m}: global {', '.join(n.names)}" for n in ast.walk(tree) if isinstance(n, ast.Global)
        ]
        mutated = _mutated_in_functions(tree, _module_containers(tree))
        mutated -= WORKER_STATE.get(m, set())
        bad += [f"{m}: module-level {name} is changed by a function" for name in sorted(mutated)]
    assert not bad, "\n".join(bad)


def test_the_state_checks_catch_what_they_forbid() -> None:
    """The two checks above, on code that breaks them (else they could pass on anything)."""
    tree = ast.parse(
        "LIVE = set()\nSEEN: dict[str, int] = {}\nCONST = {'a': 1}\n"
        "def f(x):\n    global N\n    LIVE.add(x)\n    SEEN[x] = 1\n    return CONST['a']\n"
        "def g(CONST):\n    CONST['b'] = 2\n"
    )
    assert _module_containers(tree) == {"LIVE", "SEEN", "CONST"}
    assert _mutated_in_functions(tree, _module_containers(tree)) == {"LIVE", "SEEN"}
    assert any(isinstance(n, ast.Global) for n in ast.walk(tree))
