"""The house rules, checked on the source: small modules, one-way imports, no cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "synthgen"
STAGES = ("expand", "filter", "dedup", "report", "audit")
SHARED = ("core", "llm", "text", "seeds", "records", "config", "errors", "prompts", "rubrics")


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
