"""Import contracts: the dependencies between the packages point one way.

- A sans-IO protocol package (``cmp/protocol``, ``scep/protocol``, any later
  ``*/protocol``) imports neither Django nor the project (``fac``, ``certauth``)
  nor any protocol adapter: not its own (``cmp``), not another's (``scep``),
  nor another protocol package.
- ``certauth``, the domain, imports no protocol package: protocols use the
  domain, never the reverse.

Every import statement counts, wherever it is: at the top, inside a function
(a lazy import), under ``if TYPE_CHECKING:``; so do ``importlib.import_module``
and ``__import__`` called with a literal name. The source is read with ``ast``,
nothing is imported, so a violation is found even on a path no test runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The protocol adapters: top-level packages holding a sans-IO protocol/ package.
ADAPTERS = sorted(init.parent.parent.name for init in ROOT.glob("*/protocol/__init__.py"))
PROTOCOLS = [f"{adapter}.protocol" for adapter in ADAPTERS]


@dataclass(frozen=True)
class Contract:
    """Modules of *layer* import nothing in *forbidden*, except what is in *allowed*."""

    layer: str
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()

    def breaks(self, imported: str) -> bool:
        return any(_within(imported, f) for f in self.forbidden) and not any(
            _within(imported, a) for a in self.allowed
        )


CONTRACTS = [
    *(
        Contract(
            layer=protocol,
            # fac is the Django project (settings); every adapter package
            # includes its own and the other protocol packages.
            forbidden=("django", "fac", "certauth", *ADAPTERS),
            allowed=(protocol,),
        )
        for protocol in PROTOCOLS
    ),
    Contract(layer="certauth", forbidden=tuple(ADAPTERS)),
]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(source: str, module: str, *, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, absolute module or ``module.name``) for every import in *source*."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                # "from cmp import protocol" imports cmp.protocol, not all of cmp.
                yield node.lineno, target if alias.name == "*" else f"{target}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (
                    isinstance(node.func, ast.Name)
                    and node.func.id in ("__import__", "import_module")
                )
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            yield node.lineno, node.args[0].value


def violations(contract: Contract) -> list[str]:
    found = []
    for path in sorted((ROOT / contract.layer.replace(".", "/")).rglob("*.py")):
        module = module_name(path)
        source = path.read_text(encoding="utf-8")
        for line, imported in imports(source, module, is_package=path.name == "__init__.py"):
            if contract.breaks(imported):
                found.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {imported}")
    return found


def test_the_protocol_packages_are_found():
    assert {"cmp", "scep"} <= set(ADAPTERS)


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.layer)
def test_contract(contract):
    assert (ROOT / contract.layer.replace(".", "/") / "__init__.py").is_file()
    assert violations(contract) == [], f"{contract.layer} must not import {contract.forbidden}"


# --- the checker itself --------------------------------------------------------------

PROTOCOL_CONTRACT = Contract(
    layer="cmp.protocol",
    forbidden=("django", "fac", "certauth", "cmp", "scep"),
    allowed=("cmp.protocol",),
)


@pytest.mark.parametrize(
    "source",
    [
        "import django",
        "from django.conf import settings",
        "def f():\n    from certauth import services\n",
        "if TYPE_CHECKING:\n    from certauth.models import Enrollment\n",
        "from .. import views",
        "from ..backend import Backend",
        "from cmp import models",
        "import scep.protocol.asn1",
        "from fac import settings",
        "importlib.import_module('certauth.services')",
        "__import__('django.db')",
    ],
)
def test_a_violation_is_found(source):
    found = [
        name for _, name in imports(source, "cmp.protocol.server") if PROTOCOL_CONTRACT.breaks(name)
    ]
    assert found, source


@pytest.mark.parametrize(
    "source",
    [
        "from . import asn1",
        "from .errors import BadRequest",
        "from cmp.protocol import structures",
        "from cmp import protocol",
        "import cryptography.x509",
        "import djangoish",
    ],
)
def test_an_allowed_import_passes(source):
    assert not [
        name for _, name in imports(source, "cmp.protocol.server") if PROTOCOL_CONTRACT.breaks(name)
    ]
