"""Entry point: ``python -m sealos_provider.devkit <engine|image|nodes|pulumi|artifacts>``."""
from .cli import main

raise SystemExit(main())
