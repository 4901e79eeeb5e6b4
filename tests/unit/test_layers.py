"""The package is a stack: each layer imports only the layers below it.

core (record, errors, metrics ...) → connectors and steps (siblings, neither imports the other)
→ settings (the pipeline file's model) → flows (wiring) → app (CLI, runner, check, status).
A connector imports no other connector's private names. Read from the source with ``ast``, so an
import added anywhere, even inside a function, is seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import logwax

PACKAGE = Path(logwax.__file__).parent
# What each layer may import of logwax (itself included).
ALLOWED = {
    "core": {"core"},
    "connectors": {"core", "connectors"},
    "steps": {"core", "steps"},
    "settings": {"core", "connectors", "steps", "settings"},
    "flows": {"core", "connectors", "steps", "settings", "flows"},
    "app": {"core", "connectors", "steps", "settings", "flows", "app"},
}
# ``logwax dev`` and ``logwax demo`` hand over to the checkout's dev tools, lazily (see cli.py).
DEV_TOOLS_DOOR = {"app/cli.py"}


def _layer(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if _layer(p) in ALLOWED]


def test_every_module_belongs_to_a_layer() -> None:
    strays = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if _layer(p) not in ALLOWED and p.name not in ("__init__.py", "__main__.py")
    ]
    assert strays == []


def test_layers_import_only_downward() -> None:
    wrong = []
    for path in _modules():
        layer, where = _layer(path), str(path.relative_to(PACKAGE))
        for module, _names in _imports(path):
            parts = module.split(".")
            if parts[0] == "devtools" and where not in DEV_TOOLS_DOOR:
                wrong.append(f"{where} imports {module}")
            if parts[0] == "logwax" and len(parts) > 1 and parts[1] not in ALLOWED[layer]:
                wrong.append(f"{where} ({layer}) imports {module}")
    assert wrong == []


def test_connectors_use_no_other_connectors_private_names() -> None:
    wrong = []
    for path in (PACKAGE / "connectors").rglob("*.py"):
        own = path.relative_to(PACKAGE / "connectors").parts[0]
        for module, names in _imports(path):
            parts = module.split(".")
            if parts[:2] != ["logwax", "connectors"] or len(parts) < 3 or parts[2] == own:
                continue
            private = [n for n in names if n.startswith("_")] + [p for p in parts if p[0] == "_"]
            if private:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}: {private}")
    assert wrong == []


def test_no_bytewax_private_modules() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in PACKAGE.rglob("*.py")
        for module, _names in _imports(path)
        if module.startswith("bytewax._")
    ]
    assert wrong == []
