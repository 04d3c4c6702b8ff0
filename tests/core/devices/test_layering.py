"""core/devices knows no model code: it imports nothing from the project outside itself
(apart from the shared data-validation error)."""

import ast
from pathlib import Path

import dcpipelines.core.devices as devices

PACKAGE = Path(devices.__file__).parent
ALLOWED = ("dcpipelines.core.devices", "dcpipelines.core.data.errors")


def _project_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dcpipelines"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("dcpipelines")}
    return names


def test_core_devices_imports_only_itself():
    outside = {f"{path.name}: {name}" for path in sorted(PACKAGE.glob("*.py"))
               for name in _project_imports(path) if not name.startswith(ALLOWED)}
    assert outside == set()
