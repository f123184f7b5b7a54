"""The public API resolves lazily: the CLI stays fast and every name is importable."""

from __future__ import annotations

import subprocess
import sys

import creditdesk.risk as risk


def test_every_public_name_resolves() -> None:
    for name in risk.__all__:
        assert getattr(risk, name) is not None
    assert callable(risk.train_model) and risk.train_model.__module__ == "creditdesk.risk.train"


def test_cli_import_does_not_load_model_libraries() -> None:
    code = ("import sys, creditdesk.cli; "
            "print(any(m in sys.modules for m in ('lightgbm', 'optbinning', 'sklearn')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
