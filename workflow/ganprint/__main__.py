"""`python -m ganprint`: how the workflow's jobs run the package (see workflow/rules/common.smk)."""

import sys

from .cli import main

sys.exit(main())
