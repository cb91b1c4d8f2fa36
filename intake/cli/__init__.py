"""`meld ...`: the command line of the working group and the operators.

`main` holds the parser and the small commands; each larger command family has its own
module (`serve`, `reports`, `triage`, `report`, `digest`, `demo`, `lifecycle`, `audit`, ...)
with `add_parser(sub, tr)` (`reports` and `triage` take the taxonomy too).
Shared pieces live in `base` (the Cli object and the CLI actor), `args` (bokmål argparse)
and `checks` (settings and database checks with one-line answers). Modules import `base`,
never `main`, so there is no circle. A door: it calls `intake.services` and `intake.ops`.
"""
